# shellcheck shell=bash
# tests/lib.sh: helpers for integration and swarm test scripts (source it).
#
# Checks print "ok   name" or "FAIL name" (+ detail lines indented), and the EXIT trap prints
# the suite summary "<suite>: N tests, N passed, N failed" that tests/run.sh adds up, then
# stops every process the script started (by PID, never by name) and removes its temp dir.
#
#   suite_begin integration/proxy      # name used in the summary
#   p=$(free_port)
#   spawn NAME cmd args...             # background process, stdout+stderr to $T/NAME.log
#   wait_port 127.0.0.1 $p             # until it accepts (5 s)
#   check "8 requests round robin" [ "$got" = "$want" ]
#   check_eq "status" "$got" 404
#   skip "reason"                      # whole suite skipped (exit 77)

ROOT=${SPLICED_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
SPLICED=$BUILD/spliced
WHOAMI=$BUILD/tools/whoami
T=$(mktemp -d /tmp/spliced-test.XXXXXX)
SUITE=unnamed
_pass=0 _fail=0 _pids=() _skipped=0

suite_begin() {
	SUITE=$1
	trap _suite_end EXIT
}

_suite_end() {
	local rc=$?
	local p
	for p in "${_pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${_pids[@]}"; do
		for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null
	done
	if [ "${KEEP_TMP:-0}" = 1 ] || [ $_fail -gt 0 ]; then
		echo "temp dir kept: $T"
		for f in "$T"/*.log; do [ -f "$f" ] && { echo "--- $f (last 15 lines)"; tail -15 "$f"; }; done
	else
		rm -rf "$T"
	fi
	[ $_skipped = 1 ] && exit 77
	echo "$SUITE: $((_pass + _fail)) tests, $_pass passed, $_fail failed"
	[ $_fail = 0 ] && [ $rc = 0 ] && exit 0
	exit 1
}

skip() {
	echo "skipped: $*"
	_skipped=1
	exit 77
}

_ok()   { _pass=$((_pass + 1)); echo "ok   $1"; }
_bad()  { _fail=$((_fail + 1)); echo "FAIL $1"; shift; local l; for l in "$@"; do echo "       $l"; done; }

# check NAME command...: passes when the command exits 0.
check() {
	local name=$1; shift
	if "$@"; then _ok "$name"; else _bad "$name" "command failed: $*"; fi
}

# check_eq NAME GOT WANT
check_eq() {
	if [ "$2" = "$3" ]; then _ok "$1"; else _bad "$1" "got:  $(printf %q "$2")" "want: $(printf %q "$3")"; fi
}

# check_match NAME GOT REGEX (extended regex)
check_match() {
	if [[ $2 =~ $3 ]]; then _ok "$1"; else _bad "$1" "got:  $(printf %q "$2")" "want match: $3"; fi
}

# check_le NAME GOT MAX / check_ge NAME GOT MIN (integers)
check_le() { if [ "$2" -le "$3" ]; then _ok "$1 ($2 <= $3)"; else _bad "$1" "got $2, want <= $3"; fi; }
check_ge() { if [ "$2" -ge "$3" ]; then _ok "$1 ($2 >= $3)"; else _bad "$1" "got $2, want >= $3"; fi; }

# A port nobody listens on right now (random in 20000-59999, checked with ss).
free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 40000))
		ss -Htan "sport = :$p" | grep -q . || { echo "$p"; return; }
	done
}

# spawn NAME cmd args...: start in the background, remember the PID in $NAME_PID-like var.
spawn() {
	local name=$1; shift
	"$@" >"$T/$name.log" 2>&1 </dev/null &
	_pids+=($!)
	eval "PID_${name//[^A-Za-z0-9_]/_}=$!"
}

# stop PID [SIGNAL]: signal one of our processes and wait for it (5 s), return its exit code.
stop() {
	local pid=$1 sig=${2:-TERM}
	kill -"$sig" "$pid" 2>/dev/null || return 0
	wait "$pid" 2>/dev/null
}

# wait_port HOST PORT [TIMEOUT_S]: until a TCP connect succeeds.
wait_port() {
	local host=$1 port=$2 limit=${3:-5} i
	for ((i = 0; i < limit * 20; i++)); do
		(exec 3<>"/dev/tcp/$host/$port") 2>/dev/null && return 0
		sleep 0.05
	done
	echo "wait_port: nothing accepts on $host:$port after ${limit}s" >&2
	return 1
}

# Require root (BPF, namespaces) or skip the suite.
need_root() { [ "$(id -u)" = 0 ] || skip "needs root"; }

# start_whoami NAME PORT: a whoami backend named NAME on 127.0.0.1:PORT.
start_whoami() {
	spawn "whoami-$1" "$WHOAMI" --addr 127.0.0.1 --port "$2" --name "$1"
	wait_port 127.0.0.1 "$2"
}

# start_spliced NAME PORT ARGS...: spliced with entry point http on 127.0.0.1:PORT;
# its PID is in $SPLICED_PID. SPLICED_EXTRA adds flags for every start (e.g. fast path).
start_spliced() {
	local name=$1 port=$2; shift 2
	spawn "$name" "$SPLICED" "--entryPoints=Name:http Address:127.0.0.1:$port" \
		--loglevel=DEBUG ${SPLICED_EXTRA:-} "$@"
	SPLICED_PID=${_pids[-1]}
	wait_port 127.0.0.1 "$port"
}

# file_conf FILE HOST URL...: a file-provider config routing Host HOST to the URLs
# (servers s1, s2, ... in that order, weight 1).
file_conf() {
	local file=$1 host=$2 i=1 u sep=""; shift 2
	{
		printf '{"frontends":{"f":{"backend":"b","routes":{"r":{"rule":"Host:%s"}}}},' "$host"
		printf '"backends":{"b":{"servers":{'
		for u in "$@"; do
			printf '%s"s%d":{"url":"%s","weight":1}' "$sep" "$i" "$u"
			sep=,; i=$((i + 1))
		done
		printf '}}}}\n'
	} >"$file.tmp" && mv "$file.tmp" "$file"
}
