#!/bin/bash
# make demo: the seed scenario on a real one-node Docker Swarm, deployed the way operators
# deploy Traefik 1.7: images built locally (tools/image.sh, no registry), then
# `docker stack deploy` of deploy/spliced.yml and deploy/whoami.yml. It shows the dashboard
# redirect, the round robin over the 4 whoami tasks, a 404, tunnels spliced in the kernel (read
# from the maps the task pinned), and a blue-green deploy under load with its failure count.
# The stacks are left running; `make demo-clean` (tools/demo.sh clean) removes what the demo
# created and only that: it records each thing it creates (dockerd started, swarm initialised,
# network, images, stacks) in a state directory and undoes exactly those.
#
#   tools/demo.sh          the swarm demo (root; installs packages and builds if needed)
#   tools/demo.sh clean    undo it
#   tools/demo.sh local    the file-provider demo on loopback, no Docker (tools/demo-local.sh)
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
. "$ROOT/tools/dockerd-host.bash"
B=${BUILD:-build}
case $B in /*) ;; *) B=$ROOT/$B ;; esac
STATE=${SPLICED_DEMO_STATE:-/var/lib/spliced-demo}
DOCKER=/usr/bin/docker	# Debian's client; a newer one may sit earlier in PATH
DOCKERD=/usr/sbin/dockerd
SOCK=/var/run/docker.sock
HOST=whoami.docker.localhost
NET=traefik-net

if [ -t 1 ]; then
	say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
	say() { printf '\n== %s\n' "$*"; }
fi
info() { printf 'demo: %s\n' "$*"; }
die()  { printf 'demo: %s\n' "$*" >&2; exit 1; }
show() { printf '$ %s\n' "$*"; }	# print a command the way a user would type it
ping_docker() { curl -s -m 2 --unix-socket "$SOCK" http://localhost/_ping 2>/dev/null | grep -qx OK; }
# record KEY [VALUE]: remember that the demo created something (one line per item).
record() { mkdir -p "$STATE" && echo "$*" >>"$STATE/created"; }
created() { [ -f "$STATE/created" ] && grep -qx "$*" "$STATE/created"; }
stack_containers() { local s; for s in "$@"; do "$DOCKER" ps -aq --filter "label=com.docker.stack.namespace=$s"; done; }

# Remove stacks and wait until their containers are gone (they stop a few seconds later).
remove_stacks() {
	local i
	[ $# -gt 0 ] || return 0
	"$DOCKER" stack rm "$@" >/dev/null 2>&1
	for ((i = 0; i < 300; i++)); do
		[ -z "$(stack_containers "$@")" ] && return 0
		[ $i = 200 ] && stack_containers "$@" | xargs -r "$DOCKER" rm -f >/dev/null 2>&1
		sleep 0.1
	done
	return 1
}

running() {	# SERVICE: number of its tasks running and meant to run
	"$DOCKER" service ps -q --filter desired-state=running "$1" 2>/dev/null |
		xargs -r "$DOCKER" inspect -f '{{.Status.State}}' 2>/dev/null | grep -cx running
}
wait_running() {	# SERVICE N TIMEOUT_S
	local i
	for ((i = 0; i < $3 * 5; i++)); do
		[ "$(running "$1")" = "$2" ] && return 0
		sleep 0.2
	done
	return 1
}
# Servers spliced has for a backend, from its API.
servers() {
	curl -s -m 2 http://127.0.0.1:8080/api/providers/docker 2>/dev/null |
		jq --arg b "$1" '(.backends[$b].servers // {}) | length' 2>/dev/null
}
wait_servers() {	# BACKEND N TIMEOUT_S
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		[ "$(servers "$1")" = "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

# spliced publishes 80 and 8080 in host mode: nothing else may listen there.
check_ports() {
	local port
	for port in 80 8080; do
		if ss -Hltn "sport = :$port" | grep -q .; then
			ss -Hltnp "sport = :$port" | sed 's/^/  /'
			die "port $port is in use (above): spliced publishes 80 and 8080 in host mode, as Traefik does; stop that listener and run make demo again"
		fi
	done
}

clean() {
	local i pid
	if [ ! -f "$STATE/created" ]; then
		echo "demo-clean: nothing to remove (no record of a demo in $STATE)"
		return 0
	fi
	[ "$(id -u)" = 0 ] || die "demo-clean needs root"
	if ping_docker; then
		mapfile -t stacks < <(sed -n 's/^stack //p' "$STATE/created")
		if [ ${#stacks[@]} -gt 0 ]; then
			echo "demo-clean: docker stack rm ${stacks[*]}"
			remove_stacks "${stacks[@]}" || echo "demo-clean: some containers of ${stacks[*]} remain"
		fi
		if created network; then
			echo "demo-clean: docker network rm $NET"
			for ((i = 0; i < 50; i++)); do "$DOCKER" network rm "$NET" >/dev/null 2>&1 && break; sleep 0.2; done
		fi
		for img in $(sed -n 's/^image //p' "$STATE/created"); do
			echo "demo-clean: docker image rm $img"
			"$DOCKER" image rm "$img" >/dev/null 2>&1
		done
		if created swarm; then
			echo "demo-clean: docker swarm leave --force"
			"$DOCKER" swarm leave --force >/dev/null 2>&1
		fi
	elif grep -q '^stack \|^image \|^network\|^swarm' "$STATE/created"; then
		echo "demo-clean: dockerd does not answer: stacks, images and the swarm are left as they are"
	fi
	if created bpffs-private; then
		echo "demo-clean: umount $STATE/bpffs"
		umount "$STATE/bpffs"
	fi
	if created bpffs && [ -z "$(ls -A /sys/fs/bpf 2>/dev/null)" ]; then
		echo "demo-clean: umount /sys/fs/bpf"
		umount /sys/fs/bpf
	fi
	pid=$(sed -n 's/^dockerd //p' "$STATE/created")
	if [ -n "$pid" ]; then
		[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ] &&
			echo "demo-clean: stopping the dockerd the demo started (pid $pid)"
		dockerd_host_restore "$pid" "$STATE"
	fi
	rm -rf "$STATE"
	echo "demo-clean: done"
}

case ${1:-} in
clean) clean; exit $? ;;
local) exec "$ROOT/tools/demo-local.sh" ;;
"") ;;
*) die "usage: tools/demo.sh [clean|local]" ;;
esac

[ "$(id -u)" = 0 ] || die "run make demo as root: it installs packages, starts dockerd and deploys a swarm"
T0=$(date +%s)
# Fail before installing or starting anything (unless our previous run holds the ports).
grep -q '^stack ' "$STATE/created" 2>/dev/null || check_ports

say "1. Packages and build"
"$ROOT/tools/deps.sh" || die "installing packages failed (see above)"
make -s -C "$ROOT" all >/dev/null || die "the build failed: run make to see why"
LOADGEN=$B/tests/it_loadgen
for f in "$B/spliced" "$B/tools/whoami" "$LOADGEN"; do [ -x "$f" ] || die "$f was not built"; done
info "packages present, build/spliced and build/tools/whoami built"

say "2. Docker and a one-node swarm"
if ping_docker; then
	info "dockerd is running: using it"
else
	[ -e "$SOCK" ] && [ ! -S "$SOCK" ] && die "$SOCK exists and is not a socket: remove it"
	mkdir -p "$STATE"
	if ! created dockerd-saved; then
		dockerd_host_save "$STATE"
		record dockerd-saved
	fi
	show "setsid dockerd &"
	setsid "$DOCKERD" >>"$STATE/dockerd.log" 2>&1 </dev/null &
	dpid=$!
	record dockerd $dpid
	for ((i = 0; i < 200; i++)); do ping_docker && break; sleep 0.1; done
	ping_docker || die "dockerd did not start; its log: $STATE/dockerd.log"
	info "dockerd started (pid $dpid)"
fi
case $("$DOCKER" info --format '{{.Swarm.LocalNodeState}}') in
active) info "this node is already in a swarm: using it" ;;
*)
	show "docker swarm init --advertise-addr 127.0.0.1"
	"$DOCKER" swarm init --advertise-addr 127.0.0.1 >/dev/null || die "docker swarm init failed"
	record swarm
	;;
esac
[ "$("$DOCKER" info --format '{{.Swarm.ControlAvailable}}')" = true ] ||
	die "this node is a swarm worker; spliced runs on managers: run the demo on a manager"
if "$DOCKER" network inspect "$NET" >/dev/null 2>&1; then
	info "network $NET exists: using it"
else
	show "docker network create --driver=overlay --attachable $NET"
	"$DOCKER" network create --driver=overlay --attachable "$NET" >/dev/null || die "cannot create $NET"
	record network
fi

# The task pins its maps on the host's bpffs (deploy/spliced.yml binds /sys/fs/bpf), in
# /sys/fs/bpf/spliced. If another spliced on this machine holds that directory (its lock),
# the task would run without the fast path: give the demo a bpffs of its own instead.
PIN=/sys/fs/bpf/spliced
if [ "$(stat -f -c %T /sys/fs/bpf 2>/dev/null)" != bpf_fs ]; then
	show "mount -t bpf bpf /sys/fs/bpf"
	mount -t bpf bpf /sys/fs/bpf && record bpffs || info "cannot mount a bpffs: the fast path will be off"
fi
if [ -d "$PIN" ] && ! flock -n "$PIN" true; then
	info "another spliced on this machine uses $PIN: the demo's task gets its own bpffs"
	mkdir -p "$STATE/bpffs"
	if ! mountpoint -q "$STATE/bpffs"; then
		show "mount -t bpf bpf $STATE/bpffs"
		mount -t bpf bpf "$STATE/bpffs" && record bpffs-private
	fi
	export SPLICED_BPFFS=$STATE/bpffs
	PIN=$STATE/bpffs/spliced
fi

# A previous run's stacks: remove them (ours only) so the scenario starts from the seed.
mapfile -t old < <(sed -n 's/^stack //p' "$STATE/created" 2>/dev/null | sort -u)
if [ ${#old[@]} -gt 0 ]; then
	info "removing the stacks of a previous demo run: ${old[*]}"
	remove_stacks "${old[@]}"
fi
check_ports

say "3. Images, without a registry"
show "make image    # tools/image.sh: the binary and its libraries, docker import"
SPLICED_IMAGE=spliced:latest WHOAMI_IMAGE=spliced-whoami:latest "$ROOT/tools/image.sh" ||
	die "building the images failed"
created "image spliced:latest" || record image spliced:latest
created "image spliced-whoami:latest" || record image spliced-whoami:latest

say "4. Deploy: spliced (global, managers, host ports 80/8080) and 4 whoami"
sed -n '/^services:/,$p' deploy/spliced.yml | grep -v '^ *#' | sed 's/^/  | /'
show "docker stack deploy --resolve-image never -c deploy/spliced.yml spliced"
"$DOCKER" stack deploy --resolve-image never -c deploy/spliced.yml spliced || die "stack deploy failed"
created "stack spliced" || record stack spliced
show "docker stack deploy --resolve-image never -c deploy/whoami.yml whoami"
"$DOCKER" stack deploy --resolve-image never -c deploy/whoami.yml whoami || die "stack deploy failed"
created "stack whoami" || record stack whoami
t=$(date +%s%3N)
wait_running spliced_spliced 1 60 || die "the spliced task does not run: docker service ps --no-trunc spliced_spliced"
wait_running whoami_whoami 4 60 || die "the whoami tasks do not run: docker service ps --no-trunc whoami_whoami"
wait_servers backend-whoami-whoami 4 30 || die "spliced does not route the 4 tasks: docker service logs spliced_spliced"
info "all tasks running and routed $(( $(date +%s%3N) - t )) ms after the deploy"
"$DOCKER" service ls

say "5. The seed's results"
show "curl -sI http://127.0.0.1:8080/"
curl -sI http://127.0.0.1:8080/ | grep -E '^(HTTP|Location)' | sed 's/^/  /'
echo
show "docker ps --filter name=whoami_whoami --format '{{.ID}} {{.Names}}'"
"$DOCKER" ps --filter name=whoami_whoami --format '{{.ID}} {{.Names}}' | sed 's/^/  /'
show "for i in \$(seq 8); do curl -s -H 'Host: $HOST' http://127.0.0.1/ | grep Hostname; done"
for i in $(seq 8); do curl -s -H "Host: $HOST" http://127.0.0.1/ | grep Hostname | sed 's/^/  /'; done
show "curl -s -w ' -> %{http_code}\\n' -H 'Host: unknown.docker.localhost' http://127.0.0.1/"
curl -s -w ' -> %{http_code}\n' -H 'Host: unknown.docker.localhost' http://127.0.0.1/ | tr -d '\n' | sed 's/^/  /'
echo

say "6. Flows spliced in the kernel (the task's pinned maps, read on the host)"
fplog=$("$DOCKER" service logs --raw spliced_spliced 2>&1 | grep -m1 'fastpath: ')
echo "  spliced: $fplog"
if [[ $fplog == *"fastpath: on"* ]] && [ -e "$PIN/sp_flows" ]; then
	info "4 WebSocket-style Upgrade tunnels to whoami (it echoes), 1 KiB each way every 100 ms, 6 s"
	"$LOADGEN" --tunnel 4 --interval 100 --duration 6 --path /ws --host "$HOST" 127.0.0.1:80 \
		>"$STATE/tunnels.out" 2>&1 &
	lg=$!
	sleep 3
	if [ "$PIN" = /sys/fs/bpf/spliced ]; then
		show "spliced flows --stats"
	else
		show "spliced flows --stats --fastpath.pin $PIN"
	fi
	"$B/spliced" flows --stats --fastpath.pin "$PIN" | sed 's/^/  /'
	wait $lg
	sed -n 's/^loadgen: /  tunnels: /p' "$STATE/tunnels.out"
else
	info "the fast path is off in the task (reason above): flows are relayed in userspace"
fi

say "7. Blue-green under load: whoami2 next to whoami, then docker stack rm whoami"
blue=$("$DOCKER" ps --filter name=whoami_whoami --format '{{.ID}}' | sort)
info "load: 4 keep-alive connections + 2 new-connection workers, 10 ms between requests each"
"$LOADGEN" --keepalive 4 --fresh 2 --interval 10 --timeout 10000 --trace "$STATE/bluegreen.trace" \
	--host "$HOST" 127.0.0.1:80 >"$STATE/bluegreen.out" 2>&1 &
lg=$!
sleep 2
show "docker stack deploy --resolve-image never -c deploy/whoami.yml whoami2"
"$DOCKER" stack deploy --resolve-image never -c deploy/whoami.yml whoami2 || die "stack deploy failed"
created "stack whoami2" || record stack whoami2
t=$(date +%s%3N)
wait_running whoami2_whoami 4 60 && wait_servers backend-whoami2-whoami 4 30 ||
	info "whoami2 is not routed after 60 s"
info "whoami2 running and routed after $(( $(date +%s%3N) - t )) ms"
sleep 2
show "docker stack rm whoami"
t=$(date +%s%3N)
remove_stacks whoami
info "whoami's containers gone after $(( $(date +%s%3N) - t )) ms"
sleep 2
kill -INT $lg
wait $lg
green=$("$DOCKER" ps --filter name=whoami2_whoami --format '{{.ID}}' | sort)
# Answers per stack, from the per-response trace (<ms> <worker> <status> <Hostname>).
count() { awk 'NR == FNR { want[$1] = 1; next } ($4 in want) { n++ } END { print n + 0 }' <(echo "$1") "$2"; }
after=$(tail -n 400 "$STATE/bluegreen.trace" | awk '{print $4}' | sort -u)
sed -n 's/^loadgen: /  /p' "$STATE/bluegreen.out"
grep '^fail ' "$STATE/bluegreen.out" | head -5 | sed 's/^/  /'
failed=$(sed -n 's/^loadgen: .* failed=\([0-9]*\) .*/\1/p' "$STATE/bluegreen.out")
info "answers from whoami (blue): $(count "$blue" "$STATE/bluegreen.trace"), from whoami2 (green): $(count "$green" "$STATE/bluegreen.trace")"
if [ "$after" = "$green" ]; then
	info "the last 400 answers all came from whoami2's 4 tasks"
else
	info "the last 400 answers came from: $(echo $after)"
fi
info "failed requests during the blue-green deploy: ${failed:-?}"

say "Done in $(( $(date +%s) - T0 )) s"
cat <<EOF
Left running: stacks spliced and whoami2. Try:
  curl -H 'Host: $HOST' http://127.0.0.1/
  curl http://127.0.0.1:8080/api/providers/docker
  build/spliced flows$([ "$PIN" = /sys/fs/bpf/spliced ] || echo " --fastpath.pin $PIN")
make demo-clean removes everything the demo created (and only that).
EOF
[ "${failed:-1}" = 0 ]
