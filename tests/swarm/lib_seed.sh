# shellcheck shell=bash
# tests/swarm/lib_seed.sh: the seed deployment of the swarm suites (source after lib_swarm.sh,
# after swarm_begin). It deploys the operator's files unchanged, deploy/spliced.yml (or
# deploy/spliced-userspace.yml) and deploy/whoami.yml, with only their variables set so that
# several suites or a running `make demo` do not collide: this suite's own images, overlay
# network, host ports (random instead of 80/8080) and bpffs instance.
#
#   seed_setup [FILE]           deploy spliced (FILE, default deploy/spliced.yml) and whoami;
#                               returns once spliced routes Host $WHOAMI_HOST to 4 tasks
#   seed_get PATH [HOST]        GET through the http entry point: "<status> <Hostname|->"
#   seed_seq N                  N requests on one keep-alive connection: the Hostnames in order
#   seed_ids SERVICE            container ids (12 hex, = whoami's Hostname) of its running tasks
#   seed_ips SERVICE            its running tasks' addresses on the suite's network
#   seed_rotation_wait SVC N T  until spliced's config for SVC has N servers = its running tasks
#   seed_task_logs SERVICE      docker logs of its running task(s)
#   seed_load NAME ARGS...      it_loadgen on the http entry point in the background ($T/NAME.out)
#   seed_load_stop NAME         SIGINT it, wait; prints its summary line (not in a $(...):
#                               only the shell that started it can wait for it)
#   now_ms                      wall clock in ms (same clock as Docker's timestamps)
#
# SEED_SPLICED_IMAGE=<image> runs the suites on another spliced image (e.g. one built with
# deploy/Dockerfile) instead of the one made from $BUILD/spliced.

LOADGEN=$BUILD/tests/it_loadgen
FLOWS=$BUILD/tools/spliced-flows
DEPLOY=$ROOT/deploy
STK_SPLICED=$SW_TAG-spliced
STK_WHOAMI=$SW_TAG-whoami
SVC_SPLICED=${STK_SPLICED}_spliced
SVC_WHOAMI=${STK_WHOAMI}_whoami

now_ms() { date +%s%3N; }

# Backend name the provider gives a service: backend-<service, runs of other chars as '-'>.
seed_backend() { echo "backend-$(echo "$1" | sed -E 's/[^A-Za-z0-9]+/-/g')"; }

seed_ids() { sw_running_tasks "$1" | jq -r '.[].Status.ContainerStatus.ContainerID[0:12]' | sort; }

seed_ips() {
	sw_running_tasks "$1" | jq -r --arg n "$SPLICED_NETWORK" \
		'.[].NetworksAttachments[] | select(.Network.Spec.Name == $n) | .Addresses[0] | split("/")[0]' |
		sort
}

# Server addresses spliced has for the service's backend, from its API.
seed_conf_ips() {
	curl -s -m 3 "http://127.0.0.1:$SPLICED_API_PORT/api/providers/docker" |
		jq -r --arg b "$(seed_backend "$1")" '(.backends[$b].servers // {})[].url' 2>/dev/null |
		sed -E 's#http://([^:]+):.*#\1#' | sort
}

seed_rotation_wait() {
	local i want
	for ((i = 0; i < $3 * 10; i++)); do
		want=$(seed_ips "$1")
		[ "$(echo "$want" | grep -c .)" = "$2" ] && [ "$(seed_conf_ips "$1")" = "$want" ] && return 0
		sleep 0.1
	done
	return 1
}

seed_get() {
	local out
	out=$(curl -s -m 5 -w '\n%{http_code}' -H "Host: ${2:-$WHOAMI_HOST}" \
		"http://127.0.0.1:$SPLICED_HTTP_PORT$1" 2>/dev/null)
	printf '%s %s\n' "${out##*$'\n'}" "$(echo "$out" | sed -n 's/^Hostname: //p' | head -1 | grep . || echo -)"
}

# N requests on one connection (curl reuses it for repeated URLs).
seed_seq() {
	local urls=() i
	for ((i = 0; i < $1; i++)); do urls+=("http://127.0.0.1:$SPLICED_HTTP_PORT/"); done
	curl -s -m 10 -H "Host: $WHOAMI_HOST" "${urls[@]}" | sed -n 's/^Hostname: //p'
}

seed_task_logs() {
	local c
	for c in $(sw_running_tasks "$1" | jq -r '.[].Status.ContainerStatus.ContainerID'); do
		"$DOCKER" logs "$c" 2>&1
	done
}

seed_load() {
	local name=$1; shift
	"$LOADGEN" "$@" --host "$WHOAMI_HOST" "127.0.0.1:$SPLICED_HTTP_PORT" >"$T/$name.out" 2>&1 &
	_pids+=($!)
	eval "LOAD_${name//[^A-Za-z0-9_]/_}=$!"
}

seed_load_stop() {
	local pid
	eval "pid=\$LOAD_${1//[^A-Za-z0-9_]/_}"
	kill -INT "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	grep '^loadgen:' "$T/$1.out" | tail -1
}

# Failed-request count of a finished load ("" if it printed no summary).
seed_load_failed() { sed -n 's/^loadgen: .* failed=\([0-9]*\) .*/\1/p' "$T/$1.out" | tail -1; }

seed_setup() {
	local file=${1:-$DEPLOY/spliced.yml} t0 n
	for n in jq curl; do command -v $n >/dev/null || skip "needs $n"; done
	for n in "$SPLICED" "$WHOAMI" "$LOADGEN" "$FLOWS"; do
		[ -x "$n" ] || skip "missing $n: run make"
	done
	# Our own copies: a make running meanwhile may rewrite build/ under us.
	mkdir -p "$T/bin" && cp "$LOADGEN" "$FLOWS" "$T/bin/" || { _bad "copy the test tools"; exit 1; }
	LOADGEN=$T/bin/$(basename "$LOADGEN") FLOWS=$T/bin/$(basename "$FLOWS")
	export SPLICED_NETWORK=$SW_TAG-net SPLICED_HTTP_PORT SPLICED_API_PORT SPLICED_BPFFS
	export SPLICED_IMAGE WHOAMI_IMAGE WHOAMI_HOST=whoami.docker.localhost
	SPLICED_HTTP_PORT=$(free_port)
	SPLICED_API_PORT=$(free_port)
	# Another deployment of the seed on this swarm (make demo) routes the same Host: use a
	# name of our own then, or both load balancers would see both whoami services.
	n=$(sw_api /services | jq --arg h "Host:$WHOAMI_HOST" \
		'[.[] | select(.Spec.Labels["traefik.frontend.rule"] == $h)] | length')
	if [ "$n" != 0 ]; then
		WHOAMI_HOST=whoami-$SW_TAG.docker.localhost
		echo "# another service on this swarm routes whoami.docker.localhost (make demo?): using $WHOAMI_HOST"
	fi
	swarm_network "$SPLICED_NETWORK" || { _bad "create overlay network $SPLICED_NETWORK"; exit 1; }
	swarm_images >"$T/images.log" 2>&1 || { _bad "tools/image.sh" "$(cat "$T/images.log")"; exit 1; }
	sed 's/^/# /' "$T/images.log"
	SPLICED_IMAGE=${SEED_SPLICED_IMAGE:-$SW_SPLICED_IMAGE} WHOAMI_IMAGE=$SW_WHOAMI_IMAGE
	[ -n "${SEED_SPLICED_IMAGE:-}" ] && echo "# spliced image under test: $SEED_SPLICED_IMAGE (SEED_SPLICED_IMAGE)"
	swarm_bpffs || { _bad "mount a bpffs instance for the task"; exit 1; }
	SPLICED_BPFFS=$SW_BPFFS
	t0=$(now_ms)
	check "docker stack deploy $(basename "$file")" swarm_stack "$STK_SPLICED" "$file" || exit 1
	check "docker stack deploy whoami.yml" swarm_stack "$STK_WHOAMI" "$DEPLOY/whoami.yml" || exit 1
	check "spliced task running (global, on the manager)" sw_wait_running "$SVC_SPLICED" 1 60 || exit 1
	check "4 whoami tasks running" sw_wait_running "$SVC_WHOAMI" 4 60 || exit 1
	check "spliced routes $WHOAMI_HOST to the 4 tasks" seed_rotation_wait "$SVC_WHOAMI" 4 30 || exit 1
	echo "# deployed and routed $(($(now_ms) - t0)) ms after the first stack deploy"
}
