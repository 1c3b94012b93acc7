#!/bin/bash
# Integration: the kernel fast path end to end through spliced (proxy.c hands tunnels and
# bulk bodies to tunnel.c). Bulk download/upload and an Upgrade tunnel byte-exact, small
# requests kept in userspace, and the single-use rule: a request sent after a spliced body
# on the same connection never reaches the backend that served the body.
# Runs with --fastpath=on in a private bpffs; where BPF can't be used, the same checks run
# in userspace mode and the suite says why.
. "$(dirname "$0")/../lib.sh"
suite_begin integration/splice_e2e

MODE=on NOTE=""
if [ "$(id -u)" != 0 ]; then
	MODE=off NOTE="not root"
else
	mkdir -p "$T/bpffs"
	if mount -t bpf bpf "$T/bpffs" 2>"$T/mount.err"; then
		trap 'rc=$?; for p in "${_pids[@]}"; do kill $p 2>/dev/null; done; sleep 0.5; umount "$T/bpffs" 2>/dev/null || umount -l "$T/bpffs"; (exit $rc); _suite_end' EXIT
	else
		MODE=off NOTE="cannot mount bpffs: $(cat "$T/mount.err")"
	fi
fi
PIN=$T/bpffs/spliced
FLOWS="$SPLICED flows --fastpath.pin $PIN"

wa=$(free_port); wb=$(free_port); rec=$(free_port)
start_whoami wa "$wa"
start_whoami wb "$wb"
spawn recorder "$BUILD/tests/it_recorder" --port "$rec" --log "$T/recorded" --size $((3 * 1024 * 1024))
wait_port 127.0.0.1 "$rec"
CONF=$T/conf.json
cat >"$CONF" <<JSON
{"frontends":{
  "a":{"backend":"a","routes":{"r":{"rule":"Host:a.local"}}},
  "b":{"backend":"b","routes":{"r":{"rule":"Host:b.local"}}},
  "rec":{"backend":"rec","routes":{"r":{"rule":"Host:rec.local"}}}},
 "backends":{
  "a":{"servers":{"s":{"url":"http://127.0.0.1:$wa"}}},
  "b":{"servers":{"s":{"url":"http://127.0.0.1:$wb"}}},
  "rec":{"servers":{"s":{"url":"http://127.0.0.1:$rec"}}}}}
JSON
P=$(free_port)
# spliced sockets get --fastpath.congestion: pick one that differs from the host's default so
# that the check below can tell them apart
HOST_CC=$(cat /proc/sys/net/ipv4/tcp_congestion_control 2>/dev/null)
CC=reno
[ "$HOST_CC" = reno ] && CC=cubic
if [ $MODE = on ]; then
	spawn spliced "$SPLICED" "--entryPoints=Name:http Address:127.0.0.1:$P" --loglevel=DEBUG \
		--file.filename="$CONF" --fastpath=on --fastpath.pin="$PIN" --fastpath.congestion=$CC
	SPLICED_PID=${_pids[-1]}
	# loading BPF and the canary can take a while on a busy machine
	if ! wait_port 127.0.0.1 "$P" 30; then
		kill "$SPLICED_PID" 2>/dev/null
		wait "$SPLICED_PID" 2>/dev/null
		MODE=off NOTE="spliced --fastpath=on did not start: $(grep -m1 -i 'fastpath\|error' "$T/spliced.log")"
	fi
fi
if [ $MODE = off ]; then
	echo "NOTE: ${NOTE}; the same transfers run with --fastpath=off (single-use checks skipped)"
	start_spliced spliced "$P" --file.filename="$CONF" --fastpath=off
fi
URL=http://127.0.0.1:$P
redirected() { $FLOWS --stats 2>/dev/null | sed -n 's/.*redirected=\([0-9]*\).*/\1/p'; }

# --- small requests stay in userspace
r0=$(redirected)
for i in $(seq 50); do curl -s -o /dev/null -H 'Host: a.local' "$URL/"; done
if [ $MODE = on ]; then
	check_eq "50 small requests: nothing redirected in the kernel" "$(redirected)" "$r0"
fi

# --- bulk download, spliced, byte-exact; the flow is visible in the pinned maps meanwhile
want=$("$WHOAMI" --gen 1g 5 | sha256sum | cut -d' ' -f1)
curl -s -D "$T/dl.h" -H 'Host: a.local' "$URL/data?size=1g&seed=5" | sha256sum | cut -d' ' -f1 >"$T/dl.sum" &
dl=$!
if [ $MODE = on ]; then
	seen=0
	for _ in $(seq 100); do
		$FLOWS >"$T/flows.txt" 2>&1
		grep -q spliced "$T/flows.txt" && { seen=1; break; }
		sleep 0.02
	done
	check_eq "a live bulk flow shows as spliced in the pinned maps" "$seen" 1
	ss -tni "sport = :$P" >"$T/ss-cc.txt" 2>&1
	check "the spliced client socket uses --fastpath.congestion=$CC (host: $HOST_CC)" \
		grep -qw "$CC" "$T/ss-cc.txt"
	bpftool map dump pinned "$PIN/sp_flows" >"$T/bpftool.txt" 2>&1
	check "bpftool dumps the flow map" grep -q '"key"\|key:' "$T/bpftool.txt"
fi
wait $dl
check_eq "1 GiB download byte-exact" "$(cat "$T/dl.sum")" "$want"
if [ $MODE = on ]; then
	check "bulk response head carries Connection: close" grep -qi '^Connection: close' "$T/dl.h"
	check_ge "bytes went through the kernel" "$(( $(redirected) - r0 ))" 1
fi

# --- medium downloads do not stall. A spliced source whose receive buffer is small next to
# what the kernel's worker holds announces a window below one segment and nothing reopens
# it: the backend then waits for its 200 ms persist timer (measured with a 1 MiB buffer:
# 22-43 of 50 16 MB downloads took 200 ms longer; these take 5-30 ms). One slow transfer
# in 30 is allowed for a busy machine.
r1=$(redirected)
slow=0 times=
for i in $(seq 30); do
	t=$(curl -s -o /dev/null -w '%{time_total}' -H 'Host: a.local' "$URL/data?size=$(( (i % 3) * 8 + 8 ))m")
	times="$times $t"
	awk -v t="$t" 'BEGIN { exit !(t >= 0.15) }' && slow=$((slow + 1))
done
echo "# 30 downloads of 8-24 MiB, seconds:$times"
check_le "30 downloads of 8-24 MiB: at most 1 takes 150 ms or more (a stalled window: +200 ms)" "$slow" 1
[ $MODE = on ] && check_ge "those downloads went through the kernel" "$(( $(redirected) - r1 ))" 30

# --- bulk upload (Content-Length), echoed back byte-exact
"$WHOAMI" --gen 200m 9 >"$T/up.bin"
got=$(curl -s -H 'Host: b.local' --data-binary @"$T/up.bin" "$URL/echo" | sha256sum | cut -d' ' -f1)
check_eq "200 MB upload echoed byte-exact" "$got" "$(sha256sum <"$T/up.bin" | cut -d' ' -f1)"
got=$(curl -s -H 'Host: b.local' --data-binary @"$T/up.bin" "$URL/sink")
check_eq "200 MB upload counted by the backend" "$got" $((200 * 1024 * 1024))

# --- Upgrade tunnel: bytes sent before the 101, then echoed, half-close propagated
{
	printf 'GET /ws HTTP/1.1\r\nHost: a.local\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\n'
	"$WHOAMI" --gen 10m 3
} >"$T/ws.in"
"$BUILD/tests/it_rawtcp" -t 30 127.0.0.1 "$P" <"$T/ws.in" >"$T/ws.out"
rc=$?
check_eq "tunnel: server closed cleanly after our half-close" "$rc" 0
check "tunnel: 101 Switching Protocols" grep -q $'^HTTP/1.1 101' "$T/ws.out"
# head length: the lines up to the first empty one
hl=$(sed -n $'1,/^\r$/p' "$T/ws.out" | wc -c)
got=$(tail -c +$((hl + 1)) "$T/ws.out" | sha256sum | cut -d' ' -f1)
check_eq "tunnel: 10 MB echoed byte-exact" "$got" "$("$WHOAMI" --gen 10m 3 | sha256sum | cut -d' ' -f1)"

# --- single use (the splice policy): a request after a spliced body never reaches the
# backend that served the body
if [ $MODE = on ]; then
	printf 'GET /first HTTP/1.1\r\nHost: rec.local\r\n\r\nGET /second HTTP/1.1\r\nHost: b.local\r\nX-Mark: must-not-reach-recorder\r\n\r\n' |
		"$BUILD/tests/it_rawtcp" -t 20 -d 0 127.0.0.1 "$P" >"$T/two.out"
	sleep 0.3
	check "first request reached the recorder" grep -q 'GET /first' "$T/recorded"
	check "second request never reached the recorder" bash -c "! grep -q 'must-not-reach' '$T/recorded'"
	check_le "at most one response came back on that connection" "$(grep -c $'^HTTP/1.1 ' "$T/two.out")" 1
	body=$(( $(wc -c <"$T/two.out") - $(sed -n $'1,/^\r$/p' "$T/two.out" | wc -c) ))
	check_eq "the first response's body arrived whole" "$body" $((3 * 1024 * 1024))
	# the same with the second request sent while the body is in flight
	{
		printf 'GET /third HTTP/1.1\r\nHost: rec.local\r\n\r\n'
		sleep 0.2
		printf 'GET /fourth HTTP/1.1\r\nHost: rec.local\r\nX-Mark: late-request\r\n\r\n'
	} | "$BUILD/tests/it_rawtcp" -t 20 127.0.0.1 "$P" >"$T/late.out"
	sleep 0.3
	check "a request sent during a spliced body does not reach the recorder" bash -c "! grep -q 'late-request' '$T/recorded'"
fi

if [ $MODE = on ]; then
	check "start-up log names the congestion control of spliced sockets" \
		grep -q "spliced sockets use $CC congestion control" "$T/spliced.log"
	# a name this kernel lacks: warned about once, the fast path still starts
	P2=$(free_port)
	spawn spliced_cc "$SPLICED" "--entryPoints=Name:http Address:127.0.0.1:$P2" \
		--file.filename="$CONF" --fastpath=on --fastpath.pin="${PIN}_cc" \
		--fastpath.congestion=nosuchcc --loglevel=INFO
	wait_port 127.0.0.1 "$P2" 30
	check "unknown congestion control: warning names the flag and the fix" \
		grep -q 'fastpath.congestion=nosuchcc refused.*tcp_available_congestion_control' \
		"$T/spliced_cc.log"
	check "unknown congestion control: the fast path is on anyway" \
		grep -q "fastpath: on .*use the host's congestion control" "$T/spliced_cc.log"
	kill "${_pids[-1]}"
	sleep 0.5
	check_eq "no live flows left" "$($FLOWS --json 2>/dev/null | grep -c '{')" 0
fi
