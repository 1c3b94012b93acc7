#!/bin/bash
# swarm/docker_provider: the Docker Swarm provider against a real one-node swarm.
#
# 1. Provider alone (build/tests/it_docker_dump, prints each published config): names, rule,
#    server URLs = task addresses on the test's overlay, a bad label skips only its service;
#    convergence after `docker service scale` 4 -> 8 (vs the last task's "running" time)
#    and 8 -> 4 (removed tasks leave the rotation before they stop).
# 2. Traffic through build/spliced (when it is built), run in the overlay's namespace
#    (nsenter: overlay task addresses are reachable only there), --docker.network=<overlay>:
#    round robin over every task, new tasks answering after a scale-up, no error while
#    scaling down.
# 3. --docker.network=docker_gwbridge with spliced in the host namespace (gateway-bridge
#    addresses are reachable from the host), then dockerd restarted (only a dockerd this
#    suite started): the provider keeps the last config while the engine is away and
#    converges on the re-created tasks.
# Timings on 2 shared cores are indicative.

. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib_swarm.sh"

swarm_begin swarm/docker_provider
DUMP=$BUILD/tests/it_docker_dump
[ -x "$DUMP" ] || skip "missing $DUMP: run make"
for tool in jq curl nsenter; do command -v $tool >/dev/null || skip "needs $tool"; done

NET=sp-$SW_TAG-net
SVC=sp-$SW_TAG-who
BAD=sp-$SW_TAG-bad
BE=backend-$(echo "$SVC" | sed -E 's/[^A-Za-z0-9]+/-/g')
HOSTRULE=whoami-$SW_TAG.test

now_ms() { date +%s%3N; }
api() { sw_api "$@"; }
urlenc() { jq -rn --arg s "$1" '$s|@uri'; }
running_tasks() { sw_running_tasks "$@"; }
wait_running() { sw_wait_running "$@"; }	# SVC N TIMEOUT_S
# Task addresses on a network, sorted.
task_ips() { running_tasks "$1" | jq -r --arg n "$2" '.[].NetworksAttachments[] | select(.Network.Spec.Name == $n) | .Addresses[0] | split("/")[0]' | sort; }
# Running tasks' container addresses on docker_gwbridge, sorted.
gw_task_ips() {
	running_tasks "$1" | jq -r '.[].Status.ContainerStatus.ContainerID' | while read -r c; do
		api /networks/docker_gwbridge | jq -r --arg c "$c" '.Containers[$c].IPv4Address // empty' | cut -d/ -f1
	done | sort
}
# Latest "running" transition of the service's running tasks, in ms since the epoch.
last_running_ms() {
	local ts
	ts=$(running_tasks "$1" | jq -r '[.[].Status.Timestamp] | max')
	date -d "$ts" +%s%3N
}

# Last config printed by a dump log; server count of our backend; wait for a count.
conf() { grep -E '^[0-9]+ \{' "$T/$1.log" | tail -1 | cut -d' ' -f2-; }
conf_time() { grep -E '^[0-9]+ \{' "$T/$1.log" | tail -1 | cut -d' ' -f1; }
nconf() { grep -cE '^[0-9]+ \{' "$T/$1.log"; }
nservers() { conf "$1" | jq --arg b "$BE" '(.backends[$b].servers // {}) | length' 2>/dev/null; }
conf_ips() { conf "$1" | jq -r --arg b "$BE" '(.backends[$b].servers // {})[].url' | sed -E 's#http://([^:]+):.*#\1#' | sort; }
wait_conf() {	# LOG N TIMEOUT_S
	local i
	for ((i = 0; i < $3 * 50; i++)); do
		[ "$(nservers "$1")" = "$2" ] && return 0
		sleep 0.02
	done
	return 1
}

# Backend answers: whoami prints "Hostname: <container id>", busybox httpd just the id.
who() { sed -n 's/^Hostname: //p; 1{/^[0-9a-f]\{12\}$/p}' | head -1; }

swarm_network "$NET" || { _bad "create overlay network $NET"; exit 1; }
swarm_image || { _bad "import the test image"; exit 1; }
echo "# backend image: $SW_BACKEND ($SW_IMAGE), network $NET"
swarm_service "$SVC" --replicas 4 --init --stop-grace-period 3s --network "$NET" \
	--label traefik.enable=true --label traefik.port=80 \
	--label "traefik.frontend.rule=Host:$HOSTRULE" "$SW_IMAGE"
swarm_service "$BAD" --replicas 1 --init --stop-grace-period 1s --network "$NET" \
	--label traefik.enable=true --label traefik.port=eighty "$SW_IMAGE"
check "4 tasks of $SVC running" wait_running "$SVC" 4 60 || exit 1

# ---- 1. the provider alone ----
spawn dump "$DUMP" --docker.exposedbydefault=false "--docker.network=$NET"
check "first configuration with 4 servers" wait_conf dump 4 10
check_eq "server URLs are the tasks' addresses on $NET" "$(conf_ips dump)" "$(task_ips "$SVC" "$NET")"
names=$(conf dump | jq -r --arg b "$BE" '.backends[$b].servers | keys[]')
check_eq "server names server-<svc>-<slot>-<md5(url)>" \
	"$(echo "$names" | grep -cE "^server-${BE#backend-}-[1-4]-[0-9a-f]{32}\$")" 4
fe=$(conf dump | jq -r --arg b "$BE" '.frontends | to_entries[] | select(.value.backend == $b) | .key')
check_match "frontend name frontend-<N(rule)>-<index>" "$fe" "^frontend-Host-whoami-${SW_TAG}-test-[0-9]+\$"
check_eq "route rule" "$(conf dump | jq -r --arg f "$fe" '.frontends[$f].routes[].rule')" "Host:$HOSTRULE"
check "bad label logged with the service name" grep -qF "service $BAD: label traefik.port=" "$T/dump.log"
check_eq "badly labelled service left out" \
	"$(conf dump | jq --arg b "backend-$BAD" '.backends | has($b)')" false

# Scale 4 -> 8: time from the command and from the last task running to the new config.
t0=$(now_ms)
$DOCKER service scale -d "$SVC=8" >/dev/null
t_cmd=$(now_ms)
if check "config with 8 servers after scale 4 -> 8" wait_conf dump 8 30; then
	t_conf=$(conf_time dump)
	wait_running "$SVC" 8 10
	t_run=$(last_running_ms "$SVC")
	echo "# scale 4->8: command took $((t_cmd - t0)) ms; config $((t_conf - t_cmd)) ms after it returned, $((t_conf - t_run)) ms after the last task was running (Traefik 1.7: up to 15000 ms)"
	check_le "8 servers published <= 1000 ms after the last task ran" $((t_conf - t_run)) 1000
	check_eq "8 addresses = the 8 running tasks" "$(conf_ips dump)" "$(task_ips "$SVC" "$NET")"
fi

# Scale 8 -> 4: removed tasks leave the rotation while they still run (drain window).
t0=$(now_ms)
$DOCKER service scale -d "$SVC=4" >/dev/null
t_cmd=$(now_ms)
if check "config with 4 servers after scale 8 -> 4" wait_conf dump 4 20; then
	t_conf=$(conf_time dump)
	echo "# scale 8->4: config $((t_conf - t_cmd)) ms after the command returned"
	check_le "removal published <= 1000 ms after the command" $((t_conf - t_cmd)) 1000
	# The first "die" of one of the service's containers since the command (events keep it).
	for ((i = 0; i < 100; i++)); do
		stopped_first=$(api "/events?since=$((t0 / 1000 - 1))&until=$(date +%s)&filters=$(urlenc '{"type":["container"],"event":["die"]}')" |
			jq -rs --arg p "$SVC." '[.[] | select(.Actor.Attributes.name | startswith($p)) | .timeNano / 1000000 | floor] | min // empty')
		[ -n "$stopped_first" ] && break
		sleep 0.1
	done
	if check "removed tasks stop (container die event seen)" [ -n "$stopped_first" ]; then
		echo "# first removed task stopped $((stopped_first - t_conf)) ms after it left the config"
		check "removed tasks left the config before any stopped" [ "$t_conf" -lt "$stopped_first" ]
	fi
fi

# ---- 1b. the provider in a container: it finds its own networks ----
# it_docker_dump and its libraries in an image, run attached to the test's overlay with the
# socket mounted and no --docker.network: the address must be taken on the shared network.
DUMPIMG=spliced-dump:$SW_TAG
mkdir -p "$T/dump-root/bin"
cp -L /bin/busybox "$T/dump-root/bin/busybox"
cp -L "$DUMP" "$T/dump-root/dump"
for f in $(_ldd_libs "$DUMP"); do mkdir -p "$T/dump-root$(dirname "$f")"; cp -L "$f" "$T/dump-root$f"; done
if tar -C "$T/dump-root" -c . | $DOCKER import - "$DUMPIMG" >/dev/null; then
	$DOCKER run --rm --network "$NET" -v "$DOCKER_SOCK:/var/run/docker.sock" --entrypoint /bin/busybox \
		"$DUMPIMG" timeout 4 /dump --docker.exposedbydefault=false >"$T/incontainer.log" 2>&1
	$DOCKER image rm "$DUMPIMG" >/dev/null 2>&1
	check "in a container: no host-mode message" \
		bash -c "! grep -q 'runs on the host' '$T/incontainer.log'"
	check_eq "in a container: addresses on the network it shares with the tasks" \
		"$(conf incontainer | jq -r --arg b "$BE" '(.backends[$b].servers // {})[].url' | sed -E 's#http://([^:]+):.*#\1#' | sort)" \
		"$(task_ips "$SVC" "$NET")"
else
	_bad "import the provider image"
fi

# ---- 2. traffic through spliced, in the overlay's namespace ----
req() {	# NS PORT: one request, prints the answering task or ERR<code>
	local out code
	out=$(${1:+nsenter --net=$1} curl -s -m 3 -w '\n%{http_code}' -H "Host: $HOSTRULE" "http://127.0.0.1:$2/" 2>/dev/null)
	code=${out##*$'\n'}
	if [ "$code" = 200 ]; then echo "${out%$'\n'*}" | who; else echo "ERR$code"; fi
}
wait_answer() {	# NS PORT TIMEOUT_S
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		[[ $(req "$1" "$2") != ERR* ]] && return 0
		sleep 0.1
	done
	return 1
}
spliced_args() {	# PORT APIPORT NETWORK
	echo "--api --docker --docker.swarmMode --docker.exposedbydefault=false --docker.network=$3"
}

if [ ! -x "$SPLICED" ]; then
	echo "# $SPLICED not built: traffic checks not run (provider checks above stand)"
else
	NS=$(swarm_netns "$NET")
	P=$(free_port) A=$(free_port)
	spawn spliced nsenter --net="$NS" "$SPLICED" --api --docker --docker.swarmMode \
		--docker.exposedbydefault=false "--docker.network=$NET" \
		"--entryPoints=Name:http Address::$P" "--entryPoints=Name:traefik Address::$A"
	if check "spliced answers for $HOSTRULE" wait_answer "$NS" "$P" 15; then
		got=$(for _ in $(seq 16); do req "$NS" "$P"; done)
		check_eq "16 requests reach the 4 tasks" "$(echo "$got" | sort -u | grep -vc ERR)" 4
		check_eq "round robin: 4 each" "$(echo "$got" | sort | uniq -c | awk '{print $1}' | sort -u)" 4

		old=$(echo "$got" | sort -u)
		t0=$(now_ms)
		$DOCKER service scale -d "$SVC=8" >/dev/null
		t_cmd=$(now_ms) t_first= t_all= seen=
		for ((i = 0; i < 400; i++)); do
			h=$(req "$NS" "$P")
			[[ $h == ERR* ]] && continue
			seen=$(printf '%s\n%s\n' "$seen" "$h" | grep . | sort -u)
			if [ -z "$t_first" ] && ! grep -qx "$h" <<<"$old"; then t_first=$(now_ms); fi
			if [ "$(echo "$seen" | wc -l)" -ge 8 ]; then t_all=$(now_ms); break; fi
		done
		check "all 8 tasks answer through spliced after scale 4 -> 8" [ -n "$t_all" ]
		if [ -n "$t_all" ]; then
			t_run=$(last_running_ms "$SVC")
			echo "# through spliced: first new task answered $((t_first - t_cmd)) ms, all 8 $((t_all - t_cmd)) ms after the scale command returned; all 8 $((t_all - t_run)) ms after the last task was running"
			check_le "all 8 answer <= 1000 ms after the last task ran" $((t_all - t_run)) 1000
		fi

		$DOCKER service scale -d "$SVC=4" >/dev/null
		errs=0 n=0 t_end=$(($(now_ms) + 8000))
		while [ "$(now_ms)" -lt "$t_end" ]; do
			[[ $(req "$NS" "$P") == ERR* ]] && errs=$((errs + 1))
			n=$((n + 1))
		done
		check_eq "no failed request during scale 8 -> 4 ($n requests)" "$errs" 0
	fi
	stop "$PID_spliced"
fi

# ---- 3. docker_gwbridge from the host namespace, and a dockerd restart ----
stop "$PID_dump"
wait_running "$SVC" 4 20
spawn dumpgw "$DUMP" --docker.exposedbydefault=false --docker.network=docker_gwbridge
check "gwbridge config with 4 servers" wait_conf dumpgw 4 10
check "gwbridge addresses are on docker_gwbridge's subnet" \
	[ "$(conf_ips dumpgw | grep -c '^172\.')" = 4 ]
if [ -x "$SPLICED" ]; then
	P2=$(free_port) A2=$(free_port)
	spawn splicedgw "$SPLICED" --api --docker --docker.swarmMode --docker.exposedbydefault=false \
		--docker.network=docker_gwbridge "--entryPoints=Name:http Address:127.0.0.1:$P2" \
		"--entryPoints=Name:traefik Address:127.0.0.1:$A2"
	if check "spliced on the host answers via docker_gwbridge" wait_answer "" "$P2" 15; then
		got=$(for _ in $(seq 8); do req "" "$P2"; done)
		check_eq "host spliced reaches the 4 tasks" "$(echo "$got" | sort -u | grep -vc ERR)" 4
	fi
fi

if [ "$SW_STARTED_DOCKERD" != 1 ]; then
	echo "# dockerd was running before this suite: not restarting a daemon we do not own"
else
	n_before=$(nconf dumpgw)
	t_kill=$(now_ms)
	kill "$SW_DOCKERD_PID"
	ok_after_kill=0
	while kill -0 "$SW_DOCKERD_PID" 2>/dev/null; do
		[ -x "$SPLICED" ] && [[ $(req "" "$P2") != ERR* ]] && ok_after_kill=$(now_ms)
		sleep 0.1
	done
	t_down=$(now_ms)
	[ "$ok_after_kill" != 0 ] && echo "# requests kept succeeding $((ok_after_kill - t_kill)) ms after dockerd got SIGTERM (it stops the tasks)"
	check_eq "nothing published while dockerd stops" "$(nconf dumpgw)" "$n_before"
	check "provider alive while dockerd is down" kill -0 "$PID_dumpgw"
	_dockerd_start
	t_up=$(now_ms)
	echo "# dockerd down $((t_down - t_kill)) ms after SIGTERM, answering again $((t_up - t_down)) ms later"
	check "swarm reschedules 4 tasks after the restart" wait_running "$SVC" 4 90
	if check "config converges on the new tasks" wait_conf dumpgw 4 20; then
		# The engine's view (task -> container -> docker_gwbridge endpoint) is read again
		# until it agrees with the provider's or 10 s pass: right after a restart the
		# engine can answer a query with a partial list for a moment.
		for ((i = 0; i < 50; i++)); do
			want=$(gw_task_ips "$SVC")
			[ -n "$want" ] && [ "$(conf_ips dumpgw)" = "$want" ] && break
			sleep 0.2
		done
		check_eq "addresses = the new tasks' gateway-bridge addresses" "$(conf_ips dumpgw)" "$want"
		echo "# config with the new tasks $(($(conf_time dumpgw) - $(last_running_ms "$SVC"))) ms after the last was running"
	fi
	check "provider survived the restart" kill -0 "$PID_dumpgw"
	if [ -x "$SPLICED" ]; then
		check "spliced survived the restart" kill -0 "$PID_splicedgw"
		check "spliced serves the new tasks" wait_answer "" "$P2" 10
	fi
fi
