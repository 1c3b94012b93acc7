#!/bin/bash
# swarm/seed: the seed scenario on a real one-node swarm, spliced deployed from the operator's
# stack files (deploy/spliced.yml, deploy/whoami.yml) as a global service on the manager.
#
# 1. Privileged stack: GET / on the API port -> 302 /dashboard/; 8 requests with
#    Host: whoami.docker.localhost -> the 4 tasks' hostnames (container ids), each twice, in
#    the same order; an unknown Host -> 404; the API lists the 4 task addresses.
# 2. Fast path inside the task: the task logs "fastpath: on"; Upgrade tunnels through it show
#    as spliced flows in the pinned maps (read on the host from the bpffs bound into the task,
#    and inside the task with `spliced flows`), and every echoed byte comes back.
# 3. The same stack redeployed from deploy/spliced-userspace.yml (no capabilities, no bpffs):
#    the task says it runs in userspace mode and why, pins nothing, and serves the whole
#    scenario, tunnels included.

. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib_swarm.sh"

swarm_begin swarm/seed
. "$(dirname "$0")/lib_seed.sh"

# The seed scenario's checks, with a label for the stack under test.
seed_scenario() {
	local tag=$1 loc seq ids first second
	loc=$(curl -s -m 5 -o /dev/null -w '%{http_code} %{redirect_url}' "http://127.0.0.1:$SPLICED_API_PORT/")
	check_eq "$tag: GET / on the API port -> 302 /dashboard/" "$loc" \
		"302 http://127.0.0.1:$SPLICED_API_PORT/dashboard/"
	check_eq "$tag: Location header" \
		"$(curl -s -m 5 -D - -o /dev/null "http://127.0.0.1:$SPLICED_API_PORT/" | tr -d '\r' | sed -n 's/^Location: //Ip')" \
		/dashboard/
	seq=$(seed_seq 8)
	ids=$(seed_ids "$SVC_WHOAMI")
	first=$(echo "$seq" | head -4)
	second=$(echo "$seq" | tail -n +5)
	echo "# 8 requests answered by: $(echo $seq)"
	check_eq "$tag: 8 requests -> 8 answers" "$(echo "$seq" | grep -c .)" 8
	check_eq "$tag: first 4 answers = the 4 running tasks" "$(echo "$first" | sort)" "$ids"
	check_eq "$tag: next 4 = the same tasks in the same order" "$second" "$first"
	check_eq "$tag: unknown Host -> 404" "$(seed_get / unknown.docker.localhost)" "404 -"
	check_eq "$tag: 404 body" "$(curl -s -m 5 -H 'Host: unknown.docker.localhost' \
		"http://127.0.0.1:$SPLICED_HTTP_PORT/")" "404 page not found"
	check_eq "$tag: API lists the 4 task addresses" "$(seed_conf_ips "$SVC_WHOAMI")" \
		"$(seed_ips "$SVC_WHOAMI")"
}

# ---- 1. privileged stack ----
seed_setup "$DEPLOY/spliced.yml"
echo "# spliced on 127.0.0.1:$SPLICED_HTTP_PORT (http), :$SPLICED_API_PORT (API), network $SPLICED_NETWORK"
seed_scenario privileged
be=$(seed_backend "$SVC_WHOAMI")
check_eq "backend name as Traefik 1.7 names it" \
	"$(curl -s "http://127.0.0.1:$SPLICED_API_PORT/api/providers/docker/backends" | jq -r 'keys[]' | grep -x "$be")" "$be"

# ---- 2. the fast path inside the task ----
logs=$(seed_task_logs "$SVC_SPLICED")
check_match "task log: fast path on, maps pinned" "$logs" \
	'fastpath: on \(maps pinned in /sys/fs/bpf/spliced, canary passed, spliced sockets use cubic congestion control\)'
cid=$(sw_running_tasks "$SVC_SPLICED" | jq -r '.[0].Status.ContainerStatus.ContainerID')
seed_load tunnels --tunnel 4 --interval 50 --duration 4 --path /ws
sleep 2
"$FLOWS" --fastpath.pin "$SW_BPFFS/spliced" --json >"$T/flows-host.json" 2>&1
"$FLOWS" --fastpath.pin "$SW_BPFFS/spliced" --stats >"$T/flows-host.txt" 2>&1
$DOCKER exec "$cid" /spliced flows --json >"$T/flows-task.json" 2>&1
wait "$LOAD_tunnels"
sed 's/^/# /' "$T/flows-host.txt"
check_match "4 tunnels echoed every byte" "$(grep '^loadgen:' "$T/tunnels.out")" \
	'^loadgen: tunnels=4 ok=4 failed=0 '
spliced_flows() {	# JSON lines on stdin: spliced flows to a task address with kernel bytes
	jq -s --argjson ips "$(seed_ips "$SVC_WHOAMI" | jq -R . | jq -s .)" \
		'[.[] | select(.state == "spliced" and .kernel_c2b > 0 and .kernel_b2c > 0 and
		  ((.backend | split(":")[0]) as $a | $ips | index($a)))] | length' 2>/dev/null
}
check_eq "host, pinned maps: 4 spliced flows to the tasks, bytes carried by the kernel" \
	"$(spliced_flows <"$T/flows-host.json")" 4
check_eq "inside the task, spliced flows: the same 4" "$(spliced_flows <"$T/flows-task.json")" 4
check_match "the verdict program redirected bytes" "$(cat "$T/flows-host.txt")" \
	'verdict: redirected=[1-9][0-9]* '
sz=$(curl -s -m 60 -o /dev/null -w '%{size_download} %{http_code}' -H "Host: $WHOAMI_HOST" \
	"http://127.0.0.1:$SPLICED_HTTP_PORT/data?size=64m")
check_eq "64 MiB download through the privileged task" "$sz" "67108864 200"

# ---- 3. the same stack without privileges ----
old=$cid
check "redeploy from spliced-userspace.yml" swarm_stack "$STK_SPLICED" "$DEPLOY/spliced-userspace.yml"
new=
for ((i = 0; i < 300; i++)); do
	new=$(sw_running_tasks "$SVC_SPLICED" | jq -r '.[0].Status.ContainerStatus.ContainerID // empty')
	[ -n "$new" ] && [ "$new" != "$old" ] && break
	sleep 0.1
done
check "a new spliced task runs" test -n "$new" -a "$new" != "$old"
check "no capabilities in the new task" [ "$($DOCKER inspect -f '{{json .HostConfig.CapAdd}}' "$new")" = null ]
for ((i = 0; i < 100; i++)); do
	curl -s -m 1 -o /dev/null "http://127.0.0.1:$SPLICED_API_PORT/" && break
	sleep 0.1
done
check "spliced routes the 4 tasks again" seed_rotation_wait "$SVC_WHOAMI" 4 30
logs=$($DOCKER logs "$new" 2>&1)
echo "$logs" | grep fastpath | sed 's/^/# /'
check_match "task log: userspace mode, with the reason" "$logs" \
	'fastpath: off, every tunnel is relayed in userspace: .+'
check_match "task log: started with the fast path off" "$logs" 'started: [0-9]+ workers, fast path off'
seed_scenario userspace
seed_load tunnels2 --tunnel 4 --interval 50 --duration 2 --path /ws
wait "$LOAD_tunnels2"
check_match "userspace: 4 tunnels echoed every byte" "$(grep '^loadgen:' "$T/tunnels2.out")" \
	'^loadgen: tunnels=4 ok=4 failed=0 '
check "userspace: nothing pinned" bash -c "! ls '$SW_BPFFS/spliced/sp_flows' 2>/dev/null"
sz=$(curl -s -m 60 -o /dev/null -w '%{size_download} %{http_code}' -H "Host: $WHOAMI_HOST" \
	"http://127.0.0.1:$SPLICED_HTTP_PORT/data?size=64m")
check_eq "userspace: 64 MiB download" "$sz" "67108864 200"
