# shellcheck shell=bash
# tests/swarm/lib_swarm.sh: a one-node Docker Swarm for swarm tests (source after tests/lib.sh).
#
#   swarm_begin NAME            suite_begin + start dockerd / swarm init if needed; skips the
#                               suite (exit 77) only if Docker cannot run at all
#   swarm_network NAME          an attachable overlay network of the test's own (removed at exit)
#   swarm_image                 import a whoami image (build/tools/whoami, or busybox httpd
#                               until whoami exists); sets $SW_IMAGE (removed at exit)
#   swarm_service NAME ARGS...  docker service create (removed at exit)
#   swarm_netns NETWORK         path of the network's namespace on this node (holds the
#                               overlay bridge: task IPs are reachable from it)
#   dockerd_restart             stop and start the dockerd this suite started (1 if it did not)
#   swarm_images                tools/image.sh with this suite's tags: sets $SW_SPLICED_IMAGE and
#                               $SW_WHOAMI_IMAGE (the `make image` images; removed at exit)
#   swarm_stack NAME FILE       docker stack deploy (variables from the environment; removed at
#                               exit); swarm_stack_rm NAME removes it and waits for its containers
#   swarm_bpffs                 a bpffs instance of the suite's own at $SW_BPFFS (unmounted at exit)
#   sw_api PATH                 GET on the Docker API (/v1.41 prefixed)
#   sw_running_tasks SERVICE    its tasks with DesiredState and State running, as a JSON array
#   sw_wait_running SERVICE N T until N such tasks (T seconds)
#
# Everything is undone at exit, and only what this script made: services, networks, image,
# the swarm if it initialised it, dockerd if it started it (then also docker0/docker_gwbridge,
# the iptables rules and ip_forward, saved before dockerd first ran).

. "$ROOT/tools/dockerd-host.bash"

DOCKER=/usr/bin/docker	# Debian's client; a newer one may sit earlier in PATH
DOCKERD=/usr/sbin/dockerd
DOCKER_SOCK=/var/run/docker.sock
SW_DOCKERD_PID=
SW_STARTED_DOCKERD=0
SW_INIT_SWARM=0
SW_SERVICES=()
SW_NETWORKS=()
SW_IMAGE=
SW_TAG=sp$$$RANDOM
SW_STACKS=()
SW_IMAGES=()
SW_BPFFS=

docker_ping() { curl -s -m 2 --unix-socket "$DOCKER_SOCK" http://localhost/_ping 2>/dev/null | grep -qx OK; }

# PIDs of running dockerd processes, space-separated (none: empty).
_dockerd_pids() {
	local c pids=()
	for c in /proc/[0-9]*/comm; do
		[ "$(cat "$c" 2>/dev/null)" = dockerd ] && pids+=("$(basename "$(dirname "$c")")")
	done
	echo "${pids[*]}"
}

_dockerd_start() {
	setsid "$DOCKERD" >>"$T/dockerd.log" 2>&1 </dev/null &
	SW_DOCKERD_PID=$!
	local i
	for ((i = 0; i < 200; i++)); do
		docker_ping && return 0
		kill -0 "$SW_DOCKERD_PID" 2>/dev/null || break
		sleep 0.1
	done
	return 1
}

swarm_begin() {
	suite_begin "$1"
	trap '_rc=$?; swarm_end; (exit $_rc); _suite_end' EXIT
	[ -x "$DOCKERD" ] && [ -x "$DOCKER" ] || skip "Docker is not installed (apt-get install docker.io)"
	need_root
	if ! docker_ping; then
		if [ -e "$DOCKER_SOCK" ]; then
			local other
			other=$(_dockerd_pids)
			[ -n "$other" ] && skip "dockerd (pid $other) runs but does not answer on $DOCKER_SOCK: not ours to stop"
			echo "NOTE: $DOCKER_SOCK is stale (no dockerd runs): starting our own"
		fi
		dockerd_host_save "$T"
		SW_STARTED_DOCKERD=1
		if ! _dockerd_start; then
			tail -5 "$T/dockerd.log"
			skip "dockerd does not start on this machine (see above)"
		fi
	fi
	local st
	st=$("$DOCKER" info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null)
	if [ "$st" != active ]; then
		"$DOCKER" swarm init --advertise-addr 127.0.0.1 >"$T/swarm-init.log" 2>&1 ||
			{ cat "$T/swarm-init.log"; skip "docker swarm init failed"; }
		SW_INIT_SWARM=1
	fi
	"$DOCKER" info --format '{{.Swarm.ControlAvailable}}' | grep -qx true ||
		skip "this node is a swarm worker, not a manager: the provider needs a manager"
}

swarm_network() {
	"$DOCKER" network create --driver=overlay --attachable "$1" >/dev/null || return 1
	SW_NETWORKS+=("$1")
}

swarm_service() {
	local name=$1; shift
	SW_SERVICES+=("$name")
	"$DOCKER" service create --quiet --no-resolve-image --detach --name "$name" "$@" >/dev/null
}

# Libraries of a dynamic binary, loader included (mawk has no \s: match fields).
_ldd_libs() { ldd "$1" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'; }

swarm_image() {
	local root=$T/image-root f
	mkdir -p "$root/bin" "$root/www" "$root/tmp"
	cp -L /bin/busybox "$root/bin/busybox"
	ln -s busybox "$root/bin/sh"
	if [ -x "$WHOAMI" ]; then
		cp -L "$WHOAMI" "$root/app"
		for f in $(_ldd_libs "$WHOAMI"); do
			mkdir -p "$root$(dirname "$f")"
			cp -L "$f" "$root$f"
		done
		printf '#!/bin/sh\nexec /app --port 80 --name "$(hostname)"\n' >"$root/start"
		SW_BACKEND=whoami
	else
		# busybox httpd answering its hostname (the task's container id) on /
		printf '#!/bin/sh\nhostname >/www/index.html\nexec /bin/busybox httpd -f -p 80 -h /www\n' >"$root/start"
		SW_BACKEND=busybox
	fi
	chmod +x "$root/start"
	SW_IMAGE=spliced-whoami:$SW_TAG
	tar -C "$root" -c . | "$DOCKER" import --change 'ENTRYPOINT ["/start"]' - "$SW_IMAGE" >/dev/null
}

# The namespace holding the overlay's bridge (exists once a task of it runs on this node).
swarm_netns() {
	local id
	id=$("$DOCKER" network inspect -f '{{.Id}}' "$1") || return 1
	echo "/var/run/docker/netns/1-${id:0:10}"
}

swarm_images() {
	SW_SPLICED_IMAGE=spliced:$SW_TAG
	SW_WHOAMI_IMAGE=spliced-whoami:$SW_TAG
	SW_IMAGES+=("$SW_SPLICED_IMAGE" "$SW_WHOAMI_IMAGE")
	BUILD=$BUILD DOCKER=$DOCKER "$ROOT/tools/image.sh" --spliced "$SW_SPLICED_IMAGE" \
		--whoami "$SW_WHOAMI_IMAGE"
}

swarm_stack() {
	local name=$1 file=$2
	[[ " ${SW_STACKS[*]} " == *" $name "* ]] || SW_STACKS+=("$name")
	if ! "$DOCKER" stack deploy --resolve-image never -c "$file" "$name" >"$T/stack-$name.log" 2>&1; then
		sed 's/^/    | /' "$T/stack-$name.log"
		return 1
	fi
}

# Containers (running or not) of the given stacks.
_stack_containers() {
	local s
	for s in "$@"; do
		"$DOCKER" ps -aq --filter "label=com.docker.stack.namespace=$s" 2>/dev/null
	done
}

# swarm_stack_rm NAME...: docker stack rm, then until their containers are gone (15 s, then
# forced). Returns 1 if some are left.
swarm_stack_rm() {
	local i
	[ $# -gt 0 ] || return 0
	"$DOCKER" stack rm "$@" >/dev/null 2>&1
	for ((i = 0; i < 200; i++)); do
		[ -z "$(_stack_containers "$@")" ] && return 0
		[ "$i" = 150 ] && _stack_containers "$@" | xargs -r "$DOCKER" rm -f >/dev/null 2>&1
		sleep 0.1
	done
	return 1
}

swarm_bpffs() {
	SW_BPFFS=$T/bpffs
	mkdir -p "$SW_BPFFS" && mount -t bpf bpf "$SW_BPFFS" || { SW_BPFFS=; return 1; }
}

sw_api() { curl -s -m 5 --unix-socket "$DOCKER_SOCK" "http://localhost/v1.41$1"; }

sw_running_tasks() {
	local f
	f=$(jq -rn --arg s "$1" '{"service":[$s],"desired-state":["running"]} | tojson | @uri')
	sw_api "/tasks?filters=$f" | jq '[.[] | select(.Status.State == "running")]'
}

sw_wait_running() {
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		[ "$(sw_running_tasks "$1" | jq length)" = "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

dockerd_restart() {
	[ "$SW_STARTED_DOCKERD" = 1 ] || return 1
	kill "$SW_DOCKERD_PID" 2>/dev/null
	local i
	for ((i = 0; i < 300; i++)); do kill -0 "$SW_DOCKERD_PID" 2>/dev/null || break; sleep 0.1; done
	_dockerd_start
}

swarm_end() {
	local s n i
	swarm_stack_rm "${SW_STACKS[@]}"
	for s in "${SW_SERVICES[@]}"; do "$DOCKER" service rm "$s" >/dev/null 2>&1; done
	# Task containers go away a few seconds after their service.
	for ((i = 0; i < 150; i++)); do
		n=0
		for s in "${SW_SERVICES[@]}"; do
			n=$((n + $("$DOCKER" ps -aq --filter "label=com.docker.swarm.service.name=$s" 2>/dev/null | wc -l)))
		done
		[ "$n" = 0 ] && break
		[ "$i" = 100 ] && for s in "${SW_SERVICES[@]}"; do
			"$DOCKER" ps -aq --filter "label=com.docker.swarm.service.name=$s" | xargs -r "$DOCKER" rm -f >/dev/null 2>&1
		done
		sleep 0.1
	done
	for n in "${SW_NETWORKS[@]}"; do
		for ((i = 0; i < 50; i++)); do "$DOCKER" network rm "$n" >/dev/null 2>&1 && break; sleep 0.2; done
	done
	[ -n "$SW_IMAGE" ] && "$DOCKER" image rm "$SW_IMAGE" >/dev/null 2>&1
	for s in "${SW_IMAGES[@]}"; do "$DOCKER" image rm "$s" >/dev/null 2>&1; done
	[ -n "$SW_BPFFS" ] && umount "$SW_BPFFS" 2>/dev/null
	[ "$SW_INIT_SWARM" = 1 ] && "$DOCKER" swarm leave --force >/dev/null 2>&1
	if [ "$SW_STARTED_DOCKERD" = 1 ] && [ -n "$SW_DOCKERD_PID" ]; then
		dockerd_host_restore "$SW_DOCKERD_PID" "$T"
	fi
	return 0
}

# Run by mistake as a suite (tests/run.sh globs tests/swarm/*.sh): say so and count as skipped.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	echo "skipped: lib_swarm.sh is the library the swarm suites source, not a suite"
	exit 77
fi
