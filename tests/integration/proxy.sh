#!/bin/bash
# Integration: the userspace HTTP proxy with real sockets, real whoami backends and curl.
# Round robin, errors (404, 400, 502 + retry), bodies byte-exact both ways, keep-alive,
# HTTP/1.0, 100-continue, pipelining, forwarded headers, file reload, SIGTERM drain.
# asan-smoke
. "$(dirname "$0")/../lib.sh"
suite_begin integration/proxy
SPLICED_EXTRA="--fastpath=off"

ports=()
for i in 1 2 3 4; do
	p=$(free_port); ports+=("$p")
	start_whoami "w$i" "$p"
done
P=$(free_port)
CONF=$T/conf.json
file_conf "$CONF" whoami.local $(for p in "${ports[@]}"; do echo "http://127.0.0.1:$p"; done)
start_spliced spliced "$P" --file.filename="$CONF"
URL=http://127.0.0.1:$P

# --- round robin: 8 requests -> 4 names, each twice, in order
names=""
for i in $(seq 8); do
	n=$(curl -s -H 'Host: whoami.local' "$URL/" | sed -n 's/^Name: //p')
	names="$names$n "
done
check_eq "8 requests round robin over 4 backends in order" "$names" "w1 w2 w3 w4 w1 w2 w3 w4 "

# --- routing and errors
out=$(curl -s -o "$T/body" -w '%{http_code}' -H 'Host: nobody.local' "$URL/")
check_eq "unknown Host -> 404" "$out" 404
check_eq "404 body like Traefik" "$(cat "$T/body")" "404 page not found"
out=$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: WHOAMI.local:8080' "$URL/")
check_eq "Host match ignores case and port" "$out" 200
resp=$(printf 'GET / HTTP/1.1\r\nHost: whoami.local\r\nBad Header: x\r\n\r\n' |
	timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$P; cat >&3; cat <&3")
check_match "malformed head -> 400" "$resp" "^HTTP/1.1 400 Bad Request"
check_match "400 closes the connection" "$resp" "Connection: close"
resp=$(printf 'GET / HTTP/1.1\r\n\r\n' | timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$P; cat >&3; cat <&3")
check_match "HTTP/1.1 without Host -> 400" "$resp" "^HTTP/1.1 400"

# --- forwarded headers, Host passed through
body=$(curl -s -H 'Host: whoami.local' -H 'X-Forwarded-For: 10.9.9.9' "$URL/")
check_match "Host passed through" "$body" $'Host: whoami.local\r'
check_match "X-Forwarded-For appended" "$body" $'X-Forwarded-For: 10.9.9.9, 127.0.0.1\r'
check_match "X-Real-Ip set" "$body" $'X-Real-Ip: 127.0.0.1\r'
check_match "X-Forwarded-Proto set" "$body" $'X-Forwarded-Proto: http\r'
check_match "X-Forwarded-Host set" "$body" $'X-Forwarded-Host: whoami.local\r'
check_match "X-Forwarded-Port is the entry point's" "$body" "X-Forwarded-Port: $P"

# --- HTTP/1.0
out=$(curl -s -0 -D "$T/h10" -H 'Host: whoami.local' "$URL/" | sed -n 's/^Name: //p')
check_match "HTTP/1.0 request answered" "$out" '^w[1-4]$'
check_match "HTTP/1.0 answer closes" "$(cat "$T/h10")" "Connection: close"

# --- keep-alive reuse on the client side
curl -sv -H 'Host: whoami.local' "$URL/" "$URL/" -o /dev/null -o /dev/null 2>"$T/ka"
check "keep-alive: second request reuses the connection" grep -q "Re-using existing connection" "$T/ka"

# --- pipelining: two requests in one write, answered in order
resp=$(printf 'GET /?p=1 HTTP/1.1\r\nHost: whoami.local\r\n\r\nGET /?p=2 HTTP/1.1\r\nHost: whoami.local\r\nConnection: close\r\n\r\n' |
	timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$P; cat >&3; cat <&3")
check_eq "pipelined requests both answered" "$(echo "$resp" | grep -c '^HTTP/1.1 200')" 2
check_match "pipelined answers in order" "$(echo "$resp" | grep -o 'GET /?p=[12]' | tr -d '\n')" "GET /\?p=1GET /\?p=2"

# --- bodies byte-exact
want=$("$WHOAMI" --gen 100m 7 | sha256sum | cut -d' ' -f1)
got=$(curl -s -H 'Host: whoami.local' "$URL/data?size=100m&seed=7" | sha256sum | cut -d' ' -f1)
check_eq "100 MB download byte-exact" "$got" "$want"
got=$(curl -s -H 'Host: whoami.local' "$URL/data?size=20m&seed=3&chunked=1" | sha256sum | cut -d' ' -f1)
check_eq "20 MB chunked download byte-exact" "$got" "$("$WHOAMI" --gen 20m 3 | sha256sum | cut -d' ' -f1)"
"$WHOAMI" --gen 30m 11 >"$T/up.bin"
got=$(curl -s -H 'Host: whoami.local' -H 'Transfer-Encoding: chunked' -T "$T/up.bin" "$URL/echo" | sha256sum | cut -d' ' -f1)
check_eq "30 MB chunked upload echoed byte-exact" "$got" "$(sha256sum <"$T/up.bin" | cut -d' ' -f1)"
got=$(curl -s -H 'Host: whoami.local' --data-binary @"$T/up.bin" "$URL/echo" | sha256sum | cut -d' ' -f1)
check_eq "30 MB Content-Length upload echoed byte-exact" "$got" "$(sha256sum <"$T/up.bin" | cut -d' ' -f1)"
code=$(curl -s -o "$T/e100" -w '%{http_code}' -H 'Host: whoami.local' -H 'Expect: 100-continue' \
	--data-binary @"$T/up.bin" "$URL/sink")
check_eq "Expect: 100-continue upload" "$code:$(cat "$T/e100")" "200:$((30 * 1024 * 1024))"

# --- rules with modifiers: strip prefix, strict-slash redirect
cat >"$T/rules.json" <<JSON
{"frontends":{
  "strip":{"backend":"b","routes":{"r":{"rule":"Host:strip.local;PathPrefixStrip:/api"}}},
  "exact":{"backend":"b","routes":{"r":{"rule":"Host:exact.local;Path:/exact"}}}},
 "backends":{"b":{"servers":{"s1":{"url":"http://127.0.0.1:${ports[0]}"}}}}}
JSON
cp "$CONF" "$T/conf.saved"
cp "$T/rules.json" "$CONF"
sleep 0.5
body=$(curl -s -H 'Host: strip.local' "$URL/api/users?id=3")
check_match "PathPrefixStrip forwards the stripped path" "$body" "GET /users\?id=3 HTTP/1.1"
check_match "X-Forwarded-Prefix added" "$body" $'X-Forwarded-Prefix: /api\r'
out=$(curl -s -o "$T/body" -D "$T/hdr" -w '%{http_code}' -H 'Host: exact.local' "$URL/exact/?q=1")
check_eq "trailing-slash mismatch -> 301 (strict slash)" "$out" 301
check "301 Location is the rule's form" grep -qF $'Location: /exact?q=1\r' "$T/hdr"
check_eq "301 body like Go's redirect" "$(cat "$T/body")" '<a href="/exact?q=1">Moved Permanently</a>.'
cp "$T/conf.saved" "$CONF"
sleep 0.5

# --- dead backend: 502; with a live server too, the refused connect is retried
dead=$(free_port)
file_conf "$CONF" whoami.local "http://127.0.0.1:$dead"
sleep 0.5
out=$(curl -s -o "$T/body" -w '%{http_code}' -H 'Host: whoami.local' "$URL/")
check_eq "dead backend -> 502" "$out" 502
check_eq "502 body" "$(cat "$T/body")" "Bad Gateway"
file_conf "$CONF" whoami.local "http://127.0.0.1:$dead" "http://127.0.0.1:${ports[0]}"
sleep 0.5
codes=""
for i in $(seq 6); do codes="$codes$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: whoami.local' "$URL/") "; done
check_eq "refused connect retried on the other server" "$codes" "200 200 200 200 200 200 "

# --- reload without dropping an in-flight request
file_conf "$CONF" whoami.local "http://127.0.0.1:${ports[1]}"
sleep 0.5
curl -s -o "$T/slow" -w '%{http_code}' -H 'Host: whoami.local' "$URL/?wait=1500ms" >"$T/slow.code" &
slow=$!
sleep 0.3
file_conf "$CONF" whoami.local "http://127.0.0.1:${ports[2]}"
sleep 0.5
n=$(curl -s -H 'Host: whoami.local' "$URL/" | sed -n 's/^Name: //p')
check_eq "reloaded config in service" "$n" w3
wait $slow
check_eq "in-flight request survived the reload" "$(cat "$T/slow.code"):$(sed -n 's/^Name: //p' "$T/slow")" "200:w2"
echo '{"frontends": {' >"$CONF"
sleep 0.5
n=$(curl -s -H 'Host: whoami.local' "$URL/" | sed -n 's/^Name: //p')
check_eq "broken file rejected, last good config stays" "$n" w3
check "rejection logged with the line" grep -q 'line [0-9]*, column' "$T/spliced.log"

# --- timeouts, on a second instance: 504 for a slow backend, read and write timeouts close
P2=$(free_port)
file_conf "$T/conf2.json" whoami.local "http://127.0.0.1:${ports[0]}"
spawn spliced2 "$SPLICED" "--entryPoints=Name:http Address:127.0.0.1:$P2" --fastpath=off \
	--file.filename="$T/conf2.json" --forwardingTimeouts.responseHeaderTimeout=1 \
	--respondingTimeouts.readTimeout=1 --loglevel=DEBUG
wait_port 127.0.0.1 "$P2"
t0=$(date +%s%N)
out=$(curl -s -o "$T/body" -w '%{http_code}' -H 'Host: whoami.local' "http://127.0.0.1:$P2/?wait=3s")
t1=$(date +%s%N)
check_eq "slow backend -> 504 after responseHeaderTimeout" "$out:$(cat "$T/body")" "504:Gateway Timeout"
check_le "504 came after about 1 s (ms)" $(( (t1 - t0) / 1000000 )) 2500
t0=$(date +%s%N)
printf 'GET / HTTP/1.1\r\nHost: whoami.local\r\n' | "$BUILD/tests/it_rawtcp" -t 10 -d 0 127.0.0.1 "$P2" >"$T/partial.out"
t1=$(date +%s%N)
check_eq "readTimeout: an unfinished head gets no answer" "$(wc -c <"$T/partial.out")" 0
check_le "readTimeout: connection closed after about 1 s (ms)" $(( (t1 - t0) / 1000000 )) 3000
P3=$(free_port)
spawn spliced3 "$SPLICED" "--entryPoints=Name:http Address:127.0.0.1:$P3" --fastpath=off \
	--file.filename="$T/conf2.json" --respondingTimeouts.writeTimeout=1 --loglevel=DEBUG
wait_port 127.0.0.1 "$P3"
curl -s -o /dev/null -H 'Host: whoami.local' "http://127.0.0.1:$P3/?wait=3s"
check_eq "writeTimeout: a response later than 1 s is cut (curl: empty reply)" "$?" 52
out=$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: whoami.local' "http://127.0.0.1:$P3/")
check_eq "writeTimeout: a quick response is untouched" "$out" 200

# --- SIGTERM: in-flight request finishes, then exit 0
file_conf "$CONF" whoami.local "http://127.0.0.1:${ports[3]}"
sleep 0.5
curl -s -o "$T/slow" -w '%{http_code}' -H 'Host: whoami.local' "$URL/?wait=1s" >"$T/slow.code" &
slow=$!
sleep 0.3
kill -TERM "$SPLICED_PID"
wait $slow
check_eq "in-flight request finished during drain" "$(cat "$T/slow.code")" 200
wait "$SPLICED_PID"; rc=$?
check_eq "spliced exits 0 after SIGTERM" "$rc" 0
out=$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: whoami.local' "$URL/")
check_eq "no longer accepting after drain" "$out" 000
