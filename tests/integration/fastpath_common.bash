# shellcheck shell=bash
# Helpers for the fastpath_*.sh suites (source after tests/lib.sh and suite_begin).
#
# The suites drive build/tests/it_tunnel_proxy (tunnel_start() behind a tiny proxy) with
# build/tests/it_fpload (byte-exact backend and clients). FP_MODE=on (default) runs them with
# the kernel fast path on, in a private bpffs mounted under $T; where BPF is unusable (no
# root, no sockmap support) the same checks run in userspace mode and say why. FP_MODE=off
# runs them on the userspace relay.

IT=$BUILD/tests
FP_MODE=${FP_MODE:-on}
# SPLICED_SMOKE=1 (implied on the sanitizer build, make asan): same checks, smaller volumes.
case $BUILD in *-asan) SPLICED_SMOKE=${SPLICED_SMOKE:-1} ;; esac
if [ "${SPLICED_SMOKE:-0}" = 1 ]; then
	BIG=64M MANY=${FASTPATH_MANY:-5000} CONC=200
else
	BIG=1G MANY=${FASTPATH_MANY:-100000} CONC=1000
fi
PIN=
FP_NOTE=

for _b in it_tunnel_proxy it_fpload; do
	[ -x "$IT/$_b" ] || skip "$IT/$_b is not built (make)"
done

_fp_cleanup() {
	local p
	for p in "${_pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${_pids[@]}"; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	done
	if [ -n "$PIN" ] && mountpoint -q "$T/bpffs" 2>/dev/null; then
		umount "$T/bpffs" 2>/dev/null || umount -l "$T/bpffs"
	fi
}

# fp_init (after suite_begin): decide the mode. With FP_MODE=on, mount a private bpffs and
# prove that the fast path loads here (a proxy started with --fastpath=on); else fall back to
# userspace mode. Also hooks the cleanup (stop processes, unmount) before the summary.
fp_init() {
	trap '_fp_rc=$?; _fp_cleanup; (exit $_fp_rc); _suite_end' EXIT
	[ "$FP_MODE" = off ] && return 0
	if [ "$(id -u)" != 0 ]; then
		FP_NOTE="not root: BPF needs CAP_BPF+CAP_NET_ADMIN"
	else
		mkdir -p "$T/bpffs"
		if mount -t bpf bpf "$T/bpffs" 2>"$T/mount.err"; then
			PIN=$T/bpffs/spliced
			local p b
			b=$(free_port)
			p=$(free_port)
			"$IT/it_tunnel_proxy" --listen "$p" --backend "$b" --fastpath on --pin "$PIN" \
				>"$T/probe.log" 2>&1 &
			local pid=$!
			for _ in $(seq 100); do
				grep -q '^ready' "$T/probe.log" && break
				kill -0 $pid 2>/dev/null || break
				sleep 0.05
			done
			if grep -q '^ready fastpath=on' "$T/probe.log"; then
				kill $pid; wait $pid 2>/dev/null
			else
				kill $pid 2>/dev/null; wait $pid 2>/dev/null
				FP_NOTE="fast path unusable: $(grep -m1 -o 'unusable: .*' "$T/probe.log")"
			fi
		else
			FP_NOTE="cannot mount bpffs: $(cat "$T/mount.err")"
		fi
	fi
	if [ -n "$FP_NOTE" ]; then
		echo "NOTE: $FP_NOTE; the same checks run in userspace mode (--fastpath=off)"
		FP_MODE=off
	fi
}

# fp_backend NAME: start a backend, set BE_<NAME>=port.
fp_backend() {
	local name=$1 port
	port=$(free_port)
	spawn "be_$name" "$IT/it_fpload" backend "$port"
	wait_port 127.0.0.1 "$port" || return 1
	eval "BE_$name=$port"
}

# fp_proxy NAME BACKEND_PORT [it_tunnel_proxy options...]: start a proxy in the suite's
# mode, wait for "ready", set PX_<NAME>=port and PXPID_<NAME>=pid.
fp_proxy() {
	local name=$1 be=$2 port pid
	shift 2
	port=$(free_port)
	if [ "$FP_MODE" = on ]; then
		spawn "px_$name" "$IT/it_tunnel_proxy" --listen "$port" --backend "$be" \
			--fastpath on --pin "${PIN}_$name" "$@"
	else
		spawn "px_$name" "$IT/it_tunnel_proxy" --listen "$port" --backend "$be" \
			--fastpath off "$@"
	fi
	eval "pid=\$PID_px_$name"
	for _ in $(seq 100); do
		grep -q '^ready' "$T/px_$name.log" && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	grep -q '^ready' "$T/px_$name.log" || { echo "proxy $name did not start:"; cat "$T/px_$name.log"; return 1; }
	eval "PX_$name=$port PXPID_$name=$pid"
}

# fp_stats NAME: the proxy's counters line (stats enabled=.. spliced=.. ...).
fp_stats() {
	local name=$1 pid n
	eval "pid=\$PXPID_$name"
	n=$(grep -c '^stats' "$T/px_$name.log")
	kill -USR1 "$pid"
	for _ in $(seq 100); do
		[ "$(grep -c '^stats' "$T/px_$name.log")" -gt "$n" ] && break
		sleep 0.02
	done
	grep '^stats' "$T/px_$name.log" | tail -1
}

# stat_field LINE KEY: the value of key=value in a stats line.
stat_field() { sed -E "s/.* $2=([0-9-]+).*/\\1/" <<<"$1"; }

# fp_client NAME PROXYPORT TIMEOUT SCENARIO ARGS...: run a client, output in $T/NAME.out.
fp_client() {
	local name=$1 port=$2 limit=$3
	shift 3
	timeout --kill-after=5 "$limit" "$IT/it_fpload" client "$port" "$@" >"$T/$name.out" 2>&1
}

# check_client NAME PROXYPORT TIMEOUT SCENARIO ARGS...: one check, the client's verdict.
check_client() {
	local name=$1
	if fp_client "$@"; then
		_ok "$name ($(head -1 "$T/$name.out"))"
	else
		_bad "$name" "$(tail -3 "$T/$name.out")"
	fi
}

# map_count NAME MAP: entries in a pinned map of proxy NAME (bpftool), or -1.
map_count() {
	local out
	local out
	out=$(bpftool -j map dump pinned "${PIN}_$1/$2" 2>/dev/null) || { echo -1; return; }
	# One raw key (a byte array) per element; BTF-formatted keys are plain numbers.
	grep -o '"key":\[' <<<"$out" | wc -l
}

# fp_verdict NAME FIELD: a counter of the verdict program of proxy NAME (sp_stats, all CPUs
# summed; bpftool), or -1.
fp_verdict() {
	local out
	out=$(bpftool -j map dump pinned "${PIN}_$1/sp_stats" 2>/dev/null) || { echo -1; return; }
	grep -o "\"$2\":[0-9]*" <<<"$out" | awk -F: '{ s += $2 } END { print s + 0 }'
}

# backend_results NAME WHAT: count "result WHAT ok" lines in a backend's log.
backend_ok() { grep -c "^result $2 ok" "$T/be_$1.log"; }
