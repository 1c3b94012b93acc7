#!/bin/bash
# integration/whoami: the test backend itself, driven directly with curl and it_rawtcp
# (no proxy): identity text, /data against --gen, /echo, /sink, 100-continue, wait,
# Upgrade echo with half-close, keep-alive, pipelining, HTTP/1.0, /health, flags, SIGTERM.
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"
suite_begin integration/whoami

RAW=$BUILD/tests/it_rawtcp
[ -x "$WHOAMI" ] || { check "whoami is built ($WHOAMI)" false; exit 1; }
[ -x "$RAW" ] || { check "it_rawtcp is built ($RAW)" false; exit 1; }
command -v curl >/dev/null || skip "curl not installed (make deps)"

ms() { date +%s%3N; }
sha() { sha256sum | cut -d' ' -f1; }

# --- flags
out=$("$WHOAMI" --bogus 2>&1); rc=$?
check_eq "unknown flag exits 2" "$rc" 2
check_match "unknown flag is named" "$out" "--bogus"
out=$("$WHOAMI" --port 70000 2>&1); rc=$?
check_eq "bad --port exits 2" "$rc" 2
check_match "bad --port is named" "$out" "--port '70000'"
out=$("$WHOAMI" --help); rc=$?
check_eq "--help exits 0" "$rc" 0
check_match "--help lists the routes" "$out" "/data\?size=N.*/echo.*/sink.*/bench.*/health"

# --- a named instance and an unnamed one
P1=$(free_port)
P2=$(free_port)
spawn w1 "$WHOAMI" --port "$P1" --addr 127.0.0.1 --name alpha
WHOAMI_NAME=fromenv spawn w2 "$WHOAMI" --port "$P2" --addr 127.0.0.1
wait_port 127.0.0.1 "$P1" && wait_port 127.0.0.1 "$P2" || { check "whoami listens" false; exit 1; }
U=http://127.0.0.1:$P1

body=$(curl -s -H 'X-Test: one' -H 'User-Agent: ua/1' "$U/some/path?q=1&r=2")
check_eq "Name line first" "$(echo "$body" | head -1)" "Name: alpha"
check_eq "Hostname line" "$(echo "$body" | sed -n 2p)" "Hostname: $(hostname)"
check_match "IP line for 127.0.0.1" "$body" $'\nIP: 127\\.0\\.0\\.1\n'
check_match "RemoteAddr is the client" "$body" $'\nRemoteAddr: 127\\.0\\.0\\.1:[0-9]+\n'
check_match "request line as received" "$body" $'\nGET /some/path\\?q=1&r=2 HTTP/1\\.1\r\nHost: 127\\.0\\.0\\.1:'"$P1"$'\r\n'
check_match "other headers follow Host, CRLF" "$body" $'\r\nX-Test: one\r\n'
printf 'GET /raw HTTP/1.1\r\nzeta: 1\r\nHost: h.example\r\nalpha:  two words \r\nZeta: 3\r\n\r\n' |
	"$RAW" -t 5 127.0.0.1 "$P1" >"$T/raw.out"
check_match "Host first, others in arrival order, names as sent, OWS trimmed" \
	"$(cat "$T/raw.out")" $'\nGET /raw HTTP/1\\.1\r\nHost: h\\.example\r\nzeta: 1\r\nalpha: two words\r\nZeta: 3\r\n\r$'
check_eq "WHOAMI_NAME used without --name" "$(curl -s "http://127.0.0.1:$P2/" | head -1)" "Name: fromenv"
check_eq "HEAD / has no body" "$(curl -s -I "$U/" -o /dev/null -w '%{http_code} %{size_download}')" "200 0"
check_eq "/bench body" "$(curl -s "$U/bench")" "1"

# --- /data vs --gen
for size in 0 1 7 8 9 1048575 1048576 1048577 3000001; do
	got=$(curl -s "$U/data?size=$size&seed=5" | sha)
	want=$("$WHOAMI" --gen "$size" 5 | sha)
	check_eq "/data size=$size matches --gen" "$got" "$want"
done
check_eq "--gen writes exactly N bytes" "$("$WHOAMI" --gen 3000001 | wc -c)" 3000001
check "seeds give different streams" [ "$("$WHOAMI" --gen 4096 1 | sha)" != "$("$WHOAMI" --gen 4096 2 | sha)" ]
check "blocks differ (stamps)" [ "$("$WHOAMI" --gen 2m | head -c 1048576 | sha)" != \
	"$("$WHOAMI" --gen 2m | tail -c 1048576 | sha)" ]
want=$("$WHOAMI" --gen 100m 42 | sha)
t0=$(ms)
got=$(curl -s -D "$T/h.cl" "$U/data?size=100m&seed=42" | sha)
t1=$(ms)
check_eq "100 MB Content-Length matches --gen" "$got" "$want"
check_match "100 MB has Content-Length" "$(cat "$T/h.cl")" "Content-Length: 104857600"
echo "       (100 MB in $((t1 - t0)) ms through curl)"
got=$(curl -s -D "$T/h.ch" "$U/data?size=100m&seed=42&chunked=1" | sha)
check_eq "100 MB chunked matches --gen" "$got" "$want"
check_match "chunked has Transfer-Encoding" "$(cat "$T/h.ch")" "Transfer-Encoding: chunked"
check "chunked has no Content-Length" bash -c "! grep -qi content-length '$T/h.ch'"
check_eq "/data without size is 400" "$(curl -s -o /dev/null -w '%{http_code}' "$U/data")" 400
check_eq "/data above 64g is 400" "$(curl -s -o /dev/null -w '%{http_code}' "$U/data?size=65g")" 400

# --- /echo and /sink
head -c 50000000 /dev/urandom >"$T/up.bin"
want=$(sha <"$T/up.bin")
got=$(curl -s -H 'Transfer-Encoding: chunked' --data-binary @"$T/up.bin" -D "$T/h.e" "$U/echo" | sha)
check_eq "echo of a 50 MB chunked upload is byte-exact" "$got" "$want"
check_match "chunked echo answers chunked" "$(cat "$T/h.e")" "Transfer-Encoding: chunked"
got=$(curl -s --data-binary @"$T/up.bin" -D "$T/h.e2" "$U/echo" | sha)
check_eq "echo of a 50 MB Content-Length upload is byte-exact" "$got" "$want"
check_match "CL echo answers Content-Length" "$(cat "$T/h.e2")" "Content-Length: 50000000"
check_eq "sink counts a CL body" "$(curl -s --data-binary @"$T/up.bin" "$U/sink")" 50000000
check_eq "sink counts a chunked body" \
	"$(curl -s -H 'Transfer-Encoding: chunked' --data-binary @"$T/up.bin" "$U/sink")" 50000000
check_eq "sink without body" "$(curl -s "$U/sink")" 0

# --- Expect: 100-continue (curl waits up to 1 s for it, so also check the time)
t0=$(ms)
v=$(curl -sv -H 'Expect: 100-continue' --data-binary @"$T/up.bin" "$U/sink" 2>&1)
t1=$(ms)
check_match "100 Continue sent before the answer" "$v" $'< HTTP/1.1 100 Continue.*< HTTP/1.1 200 OK'
check_le "100-continue without curl's 1 s fallback (ms)" $((t1 - t0)) 900

# --- ?wait
t0=$(ms)
check_eq "wait=300ms answers" "$(curl -s "$U/bench?wait=300ms")" 1
t1=$(ms)
check_ge "wait=300ms delays (ms)" $((t1 - t0)) 300
t0=$(ms)
cpids=()
for i in 1 2 3 4 5 6; do curl -s -o "$T/wait.$i" "$U/bench?wait=1s" & cpids+=($!); done
sleep 0.2
fast_t0=$(ms); curl -s -o /dev/null "$U/bench"; fast_t1=$(ms)
wait "${cpids[@]}"
t1=$(ms)
check_le "6 concurrent wait=1s take about 1 s (ms)" $((t1 - t0)) 1900
check_le "a plain request is not blocked by waiting ones (ms)" $((fast_t1 - fast_t0)) 300
check_eq "waiting requests all answered" "$(cat "$T"/wait.* | tr -d '\n')" 111111
check_eq "bad wait is 400" "$(curl -s -o /dev/null -w '%{http_code}' "$U/?wait=soon")" 400

# --- keep-alive, pipelining, HTTP/1.0, close=1
v=$(curl -sv "$U/bench" "$U/data?size=10" "$U/" 2>&1)
check_eq "keep-alive: curl re-uses the connection" "$(echo "$v" | grep -c 'Re-using existing connection')" 2
# five requests in one write; the fourth asks to close, so the fifth must get no answer
pipe='GET /bench HTTP/1.1\r\nHost: a\r\n\r\nGET /data?size=5 HTTP/1.1\r\nHost: a\r\n\r\n'
pipe+='POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nxyz'
pipe+='GET /bench?close=1 HTTP/1.1\r\nHost: a\r\n\r\nGET /never HTTP/1.1\r\n\r\n'
# shellcheck disable=SC2059  # the escapes are the point
printf "$pipe" | "$RAW" 127.0.0.1 "$P1" >"$T/pipe.out"
rc=$?
check_eq "pipelined: server closes after close=1" "$rc" 0
check_eq "pipelined: 4 answers, in order, none after close" \
	"$(grep -a -o 'HTTP/1.1 [0-9]*' "$T/pipe.out" | tr '\n' ' ')" "HTTP/1.1 200 HTTP/1.1 200 HTTP/1.1 200 HTTP/1.1 200 "
check_match "pipelined: echo body in place" "$(tr -d '\r' <"$T/pipe.out")" $'Content-Length: 3\n\nxyzHTTP/1.1 200 OK'
check_match "close=1 answers Connection: close" "$(tr -d '\r' <"$T/pipe.out")" $'Connection: close\n\n1$'
printf 'GET /bench HTTP/1.0\r\n\r\n' | "$RAW" -t 5 127.0.0.1 "$P1" >"$T/h10.out"
check_eq "HTTP/1.0 without keep-alive: closed after answer" "$?" 0
check_match "HTTP/1.0 answer says close" "$(cat "$T/h10.out")" "Connection: close"
printf 'GET /bench HTTP/1.0\r\nConnection: keep-alive\r\n\r\n' | "$RAW" -t 5 127.0.0.1 "$P1" >"$T/h10k.out"
check_match "HTTP/1.0 keep-alive honoured" "$(cat "$T/h10k.out")" "Connection: keep-alive"
printf 'BAD\r\n\r\n' | "$RAW" -t 5 127.0.0.1 "$P1" >"$T/bad.out"
check_match "malformed request line is 400" "$(head -1 "$T/bad.out")" "^HTTP/1.1 400"

# --- Upgrade: 101 then raw echo; client half-close -> server finishes and shuts down
head -c 5000000 /dev/urandom >"$T/tun.bin"
{ printf 'GET /tunnel HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: test-echo\r\n\r\n'
  cat "$T/tun.bin"; } | "$RAW" -t 20 127.0.0.1 "$P1" >"$T/tun.out"
rc=$?
check_eq "upgrade: server shuts down after client half-close" "$rc" 0
check_match "upgrade: 101 echoes the protocol" "$(head -c 200 "$T/tun.out" | tr -d '\r\0')" \
	$'^HTTP/1.1 101 Switching Protocols\n.*Upgrade: test-echo\n\n'
want=$({ printf 'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: test-echo\r\n\r\n'
	cat "$T/tun.bin"; } | sha)
check_eq "upgrade: 5 MB echoed byte-exact after the 101" "$(sha <"$T/tun.out")" "$want"
# bytes sent right after the head, in the same packet, are tunnel data too
printf 'GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\nUpgrade: x\r\n\r\nhello' |
	"$RAW" -t 5 127.0.0.1 "$P1" >"$T/tun2.out"
check_match "upgrade: early bytes echoed" "$(cat "$T/tun2.out")" $'\r\n\r\nhello$'

# --- /health
check_eq "health 200 at start" "$(curl -s -w ' %{http_code}' "$U/health")" $'OK\n 200'
check_eq "POST /health 500 accepted" "$(curl -s -o /dev/null -w '%{http_code}' -d 500 "$U/health")" 200
check_eq "health then 500" "$(curl -s -o /dev/null -w '%{http_code}' "$U/health")" 500
check_eq "other instance unaffected" "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$P2/health")" 200
check_eq "POST /health junk is 400" "$(curl -s -o /dev/null -w '%{http_code}' -d 'nope' "$U/health")" 400
curl -s -o /dev/null -d 200 "$U/health"
check_eq "health back to 200" "$(curl -s -o /dev/null -w '%{http_code}' "$U/health")" 200

# --- many connections at once, several threads, IPv6 wildcard
P3=$(free_port)
spawn w3 "$WHOAMI" --port "$P3" --addr :: --threads 3
wait_port 127.0.0.1 "$P3"
cpids=()
for i in $(seq 1 40); do
	curl -s -o "$T/many.$i" "http://127.0.0.1:$P3/data?size=1m&seed=$i" &
	cpids+=($!)
done
wait "${cpids[@]}"
bad=0
for i in $(seq 1 40); do
	[ "$(sha <"$T/many.$i")" = "$("$WHOAMI" --gen 1m "$i" | sha)" ] || bad=$((bad + 1))
done
check_eq "40 concurrent downloads, 3 threads, all exact" "$bad" 0
check_match "'::' takes IPv4 clients" "$(curl -s "http://127.0.0.1:$P3/")" $'RemoteAddr: 127\\.0\\.0\\.1:'
if curl -s -o /dev/null "http://[::1]:$P3/bench" 2>/dev/null; then
	check_match "IPv6 client shown in brackets" "$(curl -s "http://[::1]:$P3/")" $'RemoteAddr: \\[::1\\]:'
fi

# --- SIGTERM: exit 0 promptly, even with a download in flight
curl -s -o /dev/null "$U/data?size=64g" &
cpid=$!
sleep 0.3
t0=$(ms)
# shellcheck disable=SC2154  # set by spawn (lib.sh)
stop "$PID_w1" TERM
rc=$?
t1=$(ms)
kill "$cpid" 2>/dev/null; wait "$cpid" 2>/dev/null
check_eq "SIGTERM exits 0" "$rc" 0
check_le "SIGTERM exit is prompt (ms)" $((t1 - t0)) 1000
