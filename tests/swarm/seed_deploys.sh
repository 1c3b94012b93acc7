#!/bin/bash
# swarm/seed_deploys: zero-failure deploys behind spliced, deployed from deploy/spliced.yml on a
# real one-node swarm, under a bounded load (it_loadgen: 4 keep-alive connections and 2
# workers opening a connection per request, 10 ms apart each, about 400 requests/s).
#
# 1. Rolling update of the whoami service, `docker service update --image ...` with
#    --update-order start-first, then stop-first: 0 failed requests; afterwards only the new
#    tasks answer.
# 2. Blue-green as in the seed: stack whoami2 deployed next to whoami, then
#    `docker stack rm whoami`: 0 failed requests; afterwards only whoami2's tasks answer.
# 3. Scale 4 -> 8 -> 2: each new task answers within 1 s of running; each removed task gets
#    its last request within 1 s of leaving the running state (its desired state changed),
#    the rotation is then exactly the running tasks; 0 failed requests.
# A failed request is anything but a complete 2xx/3xx response (connect error, reset, EOF,
# 5xx, a read waiting over 10 s). Figures are printed as "# ..." lines; 2 shared cores make
# the timings indicative.

. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib_swarm.sh"

swarm_begin swarm/seed_deploys
. "$(dirname "$0")/lib_seed.sh"

LOAD_ARGS=(--keepalive 4 --fresh 2 --interval 10 --timeout 10000)
ts_ms() { date -d "$1" +%s%3N; }

# Per Hostname in a trace: "<host> <first ms> <last ms> <count>" (successful answers only).
trace_hosts() { awk '$3 < 400 { if (!($4 in f)) f[$4] = $1; l[$4] = $1; n[$4]++ }
	END { for (h in f) print h, f[h], l[h], n[h] }' "$1"; }
# Hostnames answering after a time (ms), sorted, unique.
trace_after() { awk -v t="$2" '$1 > t && $3 < 400 { print $4 }' "$1" | sort -u; }

# load_check NAME WHAT: the load's summary, and 0 failed requests.
load_check() {
	seed_load_stop "$1" >"$T/$1.summary"
	echo "# $2: $(cat "$T/$1.summary")"
	grep '^fail ' "$T/$1.out" | head -5 | sed 's/^/#   /'
	check_eq "$2: 0 failed requests" "$(seed_load_failed "$1")" 0
}

seed_setup "$DEPLOY/spliced.yml"
IMG_A=$SW_WHOAMI_IMAGE
IMG_B=$SW_WHOAMI_IMAGE-b
$DOCKER tag "$IMG_A" "$IMG_B" && SW_IMAGES+=("$IMG_B")

# ---- 1. rolling updates ----
rolling() {	# ORDER IMAGE
	local name=roll-$1 t0 t1 t2 old new
	old=$(seed_ids "$SVC_WHOAMI")
	seed_load "$name" "${LOAD_ARGS[@]}" --trace "$T/$name.trace"
	sleep 1
	t0=$(now_ms)
	$DOCKER service update --quiet --detach=false --no-resolve-image --image "$2" \
		--update-order "$1" "$SVC_WHOAMI" >"$T/$name-update.log" 2>&1
	t1=$(now_ms)
	check "rolling update $1 completed" sw_wait_running "$SVC_WHOAMI" 4 30
	check "$1: spliced routes the 4 new tasks" seed_rotation_wait "$SVC_WHOAMI" 4 10
	t2=$(now_ms)
	new=$(seed_ids "$SVC_WHOAMI")
	sleep 1
	load_check "$name" "rolling update $1 ($((t1 - t0)) ms)"
	check_eq "$1: 4 tasks replaced" "$(comm -12 <(echo "$old") <(echo "$new") | grep -c .)" 0
	check_eq "$1: afterwards only the new tasks answer" \
		"$(trace_after "$T/$name.trace" "$t2")" "$new"
}
rolling start-first "$IMG_B"
rolling stop-first "$IMG_A"

# ---- 2. blue-green ----
STK_WHOAMI2=$SW_TAG-whoami2
SVC_WHOAMI2=${STK_WHOAMI2}_whoami
blue=$(seed_ids "$SVC_WHOAMI")
seed_load bluegreen "${LOAD_ARGS[@]}" --trace "$T/bluegreen.trace"
sleep 1
t0=$(now_ms)
check "docker stack deploy whoami.yml as whoami2" swarm_stack "$STK_WHOAMI2" "$DEPLOY/whoami.yml"
check "whoami2: 4 tasks running" sw_wait_running "$SVC_WHOAMI2" 4 60
check "whoami2: spliced has its 4 tasks" seed_rotation_wait "$SVC_WHOAMI2" 4 10
t1=$(now_ms)
green=$(seed_ids "$SVC_WHOAMI2")
check "docker stack rm whoami (its containers gone)" swarm_stack_rm "$STK_WHOAMI"
t2=$(now_ms)
sleep 1
load_check bluegreen "blue-green (whoami2 routed $((t1 - t0)) ms after its deploy, whoami gone $((t2 - t1)) ms after its rm)"
check_eq "blue-green: afterwards only whoami2 answers" \
	"$(trace_after "$T/bluegreen.trace" "$t2")" "$green"
check "blue-green: whoami answered before the switch" \
	[ -n "$(comm -12 <(trace_hosts "$T/bluegreen.trace" | cut -d' ' -f1 | sort) <(echo "$blue"))" ]

# ---- 3. scale 4 -> 8 -> 2 (whoami2) ----
SVC=$SVC_WHOAMI2
ids4=$(seed_ids "$SVC")
seed_load scale "${LOAD_ARGS[@]}" --trace "$T/scale.trace"
sleep 1
t0=$(now_ms)
$DOCKER service scale -d "$SVC=8" >/dev/null
check "scale 4 -> 8: 8 tasks running" sw_wait_running "$SVC" 8 60
check "scale 4 -> 8: spliced has the 8 tasks" seed_rotation_wait "$SVC" 8 10
sleep 1.5
ids8=$(seed_ids "$SVC")
worst=-999999 missing=0
while read -r id ts; do
	grep -qx "$id" <<<"$ids4" && continue
	first=$(trace_hosts "$T/scale.trace" | awk -v h="$id" '$1 == h { print $2 }')
	if [ -z "$first" ]; then missing=$((missing + 1)); continue; fi
	lag=$((first - $(ts_ms "$ts")))
	echo "# new task $id: first answer $lag ms after it was running"
	[ $lag -gt $worst ] && worst=$lag
done < <(sw_running_tasks "$SVC" | jq -r '.[] | "\(.Status.ContainerStatus.ContainerID[0:12]) \(.Status.Timestamp)"')
check_eq "scale 4 -> 8: every new task answered" "$missing" 0
check_le "scale 4 -> 8: new tasks in the rotation <= 1000 ms after running" "$worst" 1000

# 8 -> 2: when each removed task left the running state (DesiredState changed), from the API.
t_cmd=$(now_ms)
$DOCKER service scale -d "$SVC=2" >/dev/null
declare -A left=()
for ((i = 0; i < 100 && ${#left[@]} < 6; i++)); do
	while read -r id ts; do
		[ -n "$id" ] && [ -z "${left[$id]:-}" ] && left[$id]=$(ts_ms "$ts")
	done < <(sw_api "/tasks?filters=$(jq -rn --arg s "$SVC" '{"service":[$s]} | tojson | @uri')" |
		jq -r '.[] | select(.DesiredState != "running" and .Status.State == "running")
			| "\(.Status.ContainerStatus.ContainerID[0:12]) \(.UpdatedAt)"')
	sleep 0.05
done
check_eq "scale 8 -> 2: 6 tasks told to stop" "${#left[@]}" 6
check "scale 8 -> 2: 2 tasks running" sw_wait_running "$SVC" 2 30
check "scale 8 -> 2: spliced has the 2 tasks" seed_rotation_wait "$SVC" 2 10
ids2=$(seed_ids "$SVC")
# Until the removed containers are gone (they keep answering a few seconds after the change).
for ((i = 0; i < 150; i++)); do
	[ "$($DOCKER ps -q --filter "label=com.docker.swarm.service.name=$SVC" | wc -l)" = 2 ] && break
	sleep 0.1
done
sleep 1
t_end=$(now_ms)
worst=-999999
for id in "${!left[@]}"; do
	last=$(trace_hosts "$T/scale.trace" | awk -v h="$id" '$1 == h { print $3 }')
	[ -z "$last" ] && continue
	lag=$((last - ${left[$id]}))
	echo "# removed task $id: last answer $lag ms after its desired state changed ($((${left[$id]} - t_cmd)) ms after the command)"
	[ $lag -gt $worst ] && worst=$lag
done
check_le "scale 8 -> 2: removed tasks out of the rotation <= 1000 ms after the change" "$worst" 1000
latest=0
for id in "${!left[@]}"; do [ "${left[$id]}" -gt $latest ] && latest=${left[$id]}; done
check_eq "scale 8 -> 2: from 1 s after the change, only the 2 running tasks answer" \
	"$(trace_after "$T/scale.trace" $((latest + 1000)))" "$ids2"
load_check scale "scale 4 -> 8 -> 2"
# Answers complete out of dispatch order across 6 workers: allow a few either way.
rr=$(tail -n 200 "$T/scale.trace" | awk '{ print $4 }' | sort | uniq -c | awk '{ print $1 }' | sort -n | tr '\n' ' ')
check_match "scale 8 -> 2: the last 200 answers split evenly over the 2 ($rr)" "$rr" '^(9[6-9]|100) (10[0-4]|100) $'

