#!/bin/bash
# swarm/api_swarm: the API against a real one-node swarm. A service with Traefik 1.7 labels
# runs 2 tasks; spliced (host namespace, --docker.network=docker_gwbridge) must show in
# /api/providers/docker exactly what the swarm says: Traefik's names (backend, frontend,
# route, servers named from slot + md5 of the URL), the task addresses as server URLs,
# the labels' rule, priority, entry points and load-balancer method, in Traefik's compact
# JSON. Then traffic moves /health and /metrics for that backend, and a scale to 3 shows up
# in the API. Everything it makes is removed at exit (lib_swarm.sh).

. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib_swarm.sh"

swarm_begin swarm/api_swarm
for tool in jq curl md5sum; do command -v $tool >/dev/null || skip "needs $tool"; done
[ -x "$SPLICED" ] || skip "missing $SPLICED: run make"

NET=sp-$SW_TAG-net
SVC=sp-$SW_TAG-api
RULE="Host:api-$SW_TAG.test"
N() { echo "$1" | sed -E 's/[^A-Za-z0-9]+/-/g; s/^-//; s/-$//'; }
BE=backend-$(N "$SVC")
FE=frontend-$(N "$RULE-0")

swarm_network "$NET" || { _bad "create overlay network $NET"; exit 1; }
swarm_image || { _bad "import the test image"; exit 1; }
swarm_service "$SVC" --replicas 2 --init --stop-grace-period 3s --network "$NET" \
	--label traefik.enable=true --label traefik.port=80 --label "traefik.frontend.rule=$RULE" \
	--label traefik.frontend.priority=5 --label traefik.frontend.entryPoints=http \
	--label traefik.backend.loadbalancer.method=drr "$SW_IMAGE"
check "2 tasks running" sw_wait_running "$SVC" 2 60

P=$(free_port); A=$(free_port)
spawn spliced "$SPLICED" --api --ping --metrics.prometheus --docker --docker.swarmMode \
	--docker.exposedbydefault=false --docker.network=docker_gwbridge \
	--docker.swarmModeRefreshSeconds=1 --fastpath=off --loglevel=INFO \
	"--entryPoints=Name:http Address:127.0.0.1:$P" "--entryPoints=Name:traefik Address:127.0.0.1:$A"
wait_port 127.0.0.1 "$A" 10
API=http://127.0.0.1:$A

# What the swarm says: each running task's slot and docker_gwbridge address.
tasks() {
	sw_running_tasks "$SVC" | jq -r '.[] | "\(.Slot) \(.Status.ContainerStatus.ContainerID)"' |
		while read -r slot cid; do
			ip=$(sw_api /networks/docker_gwbridge | jq -r --arg c "$cid" '.Containers[$c].IPv4Address // empty' | cut -d/ -f1)
			echo "$slot $ip"
		done
}
# The servers map Traefik would print for those tasks, keys sorted.
want_servers() {
	tasks | while read -r slot ip; do
		url="http://$ip:80"
		md5=$(printf '%s' "$url" | md5sum | cut -d' ' -f1)
		printf '%s %s\n' "$(N "server-$SVC.$slot-$md5")" "$url"
	done | sort | jq -R -n -c '[inputs | split(" ") | {key: .[0], value: {url: .[1], weight: 1}}] | from_entries'
}
wait_servers() {	# N TIMEOUT_S
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		[ "$(curl -s "$API/api/providers/docker/backends/$BE/servers" | jq 'length' 2>/dev/null)" = "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

check "the API shows the backend with 2 servers" wait_servers 2 20
got=$(curl -s "$API/api/providers/docker/backends/$BE/servers" | jq -c -S .)
check_eq "servers: Traefik's names, task addresses, weight 1" "$got" "$(want_servers)"
got=$(curl -s "$API/api/providers/docker/frontends/$FE")
check_eq "frontend JSON byte-exact from the labels" "$got" \
	"{\"entryPoints\":[\"http\"],\"backend\":\"$BE\",\"routes\":{\"route-$FE\":{\"rule\":\"$RULE\"}},\"passHostHeader\":true,\"priority\":5,\"basicAuth\":null}"
check_eq "load-balancer method from the label" \
	"$(curl -s "$API/api/providers/docker/backends/$BE" | jq -r .loadBalancer.method)" drr
check_eq "/api lists the docker provider" "$(curl -s "$API/api" | jq -c keys)" '["docker"]'

# traffic through spliced moves /health and /metrics for this backend
host=${RULE#Host:}
h1=$(curl -s "$API/health" | jq '.total_status_code_count["200"] // 0')
ok=0
for _ in $(seq 10); do
	[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Host: $host" "http://127.0.0.1:$P/")" = 200 ] && ok=$((ok + 1))
done
check_eq "10 requests answered by the tasks" "$ok" 10
h2=$(curl -s "$API/health" | jq '.total_status_code_count["200"] // 0')
check_eq "health: 200s moved by 10 (+1 for the first /health)" $((h2 - h1)) 11
curl -s -o "$T/metrics" "$API/metrics"
check_eq "metrics: backend counter for $BE" \
	"$(awk -v k="traefik_backend_requests_total{backend=\"$BE\",code=\"200\",method=\"GET\",protocol=\"http\"}" '$1 == k { print $2 }' "$T/metrics")" 10
check_eq "metrics: server_up for each task" \
	"$(grep -c "^traefik_backend_server_up{backend=\"$BE\",url=\"http://[0-9.]*:80\"} 1$" "$T/metrics")" 2
check_match "metrics: valid exposition" "$("$BUILD/tests/it_promcheck" "$T/metrics")" '^valid:'
check_ge "metrics: config reloads counted" "$(awk '$1 == "traefik_config_reloads_total" { print $2 }' "$T/metrics")" 1

# scale: the API follows the swarm
"$DOCKER" service scale -d "$SVC=3" >/dev/null
check "3 tasks running" sw_wait_running "$SVC" 3 60
check "the API shows 3 servers" wait_servers 3 20
sleep 0.5
got=$(curl -s "$API/api/providers/docker/backends/$BE/servers" | jq -c -S .)
check_eq "servers after the scale = the 3 tasks" "$got" "$(want_servers)"
