#!/bin/bash
# Integration: the API entry point against the file-provider configuration that fed it.
# Traefik 1.7 JSON shapes byte for byte, redirect, ping, version, /health counters moving
# with traffic (exact deltas), /metrics valid Prometheus text (strict checker, and promtool
# when installed) with counts matching the traffic, config reloads, the access log in both
# formats, one log format on stderr, read-only methods, and the API off without --api.
# asan-smoke
. "$(dirname "$0")/../lib.sh"
suite_begin integration/api
SPLICED_EXTRA="--fastpath=off"
command -v jq >/dev/null || skip "jq is not installed (tools/deps.sh installs it)"
PROMCHECK=$BUILD/tests/it_promcheck
[ -x "$PROMCHECK" ] || skip "build/tests/it_promcheck is missing: run make"

W1=$(free_port); W2=$(free_port); DEAD=$(free_port)
start_whoami w1 "$W1"
start_whoami w2 "$W2"
P=$(free_port); A=$(free_port)
CONF=$T/conf.json
cat >"$CONF" <<EOF
{"frontends":{
   "f":{"backend":"b","routes":{"r":{"rule":"Host:a.local"}}},
   "g":{"backend":"dead","entryPoints":["http"],"priority":7,"passHostHeader":false,
        "routes":{"r1":{"rule":"Host:dead.local"}}},
   "h":{"backend":"b","routes":{"r":{"rule":"Host:x<y>&z.local"}}}},
 "backends":{
   "b":{"servers":{"s1":{"url":"http://127.0.0.1:$W1","weight":1},
                   "s2":{"url":"http://127.0.0.1:$W2","weight":2}}},
   "dead":{"servers":{"d1":{"url":"http://127.0.0.1:$DEAD","weight":1}},"loadBalancer":{"method":"drr"}}}}
EOF
start_spliced spliced "$P" --file.filename="$CONF" --api --ping --metrics.prometheus \
	"--entryPoints=Name:traefik Address:127.0.0.1:$A" \
	--accessLog --accessLog.filePath="$T/logs/access.log"
wait_port 127.0.0.1 "$A"
API=http://127.0.0.1:$A
URL=http://127.0.0.1:$P

# --- provider tree: the file's configuration, Traefik's shapes, compact and ordered
got=$(curl -s -D "$T/h" "$API/api/providers/file/backends/b/servers/s1")
check_eq "server JSON byte-exact" "$got" "{\"url\":\"http://127.0.0.1:$W1\",\"weight\":1}"
check "application/json; charset=UTF-8" grep -qi '^Content-Type: application/json; charset=UTF-8' "$T/h"
got=$(curl -s "$API/api/providers/file/frontends/f")
check_eq "frontend JSON byte-exact, defaults filled (entryPoints, passHostHeader, priority)" "$got" \
	'{"entryPoints":["http"],"backend":"b","routes":{"r":{"rule":"Host:a.local"}},"passHostHeader":true,"priority":0,"basicAuth":null}'
got=$(curl -s "$API/api/providers/file/frontends/g")
check_eq "frontend g: passHostHeader false omitted, priority kept" "$got" \
	'{"entryPoints":["http"],"backend":"dead","routes":{"r1":{"rule":"Host:dead.local"}},"priority":7,"basicAuth":null}'
check_eq "<>& escaped like Go's encoding/json" "$(curl -s "$API/api/providers/file/frontends/h/routes")" \
	'{"r":{"rule":"Host:x\u003cy\u003e\u0026z.local"}}'
all=$(curl -s "$API/api")
check_eq "/api = /api/providers" "$all" "$(curl -s "$API/api/providers")"
check_eq "/api has one provider, file" "$(echo "$all" | jq -c 'keys')" '["file"]'
check_eq "backends as in the file" "$(echo "$all" | jq -c '.file.backends | keys')" '["b","dead"]'
check_eq "servers and weights as in the file" \
	"$(echo "$all" | jq -c '.file.backends.b.servers | to_entries | map([.key,.value.url,.value.weight])')" \
	"[[\"s1\",\"http://127.0.0.1:$W1\",1],[\"s2\",\"http://127.0.0.1:$W2\",2]]"
check_eq "load balancer method kept (drr), default wrr" \
	"$(echo "$all" | jq -r '.file.backends.dead.loadBalancer.method,.file.backends.b.loadBalancer.method' | tr '\n' ' ')" "drr wrr "
check_eq "no trailing newline, no spaces" "$(curl -s "$API/api" | tail -c 2)" "}}"
check_eq "…/frontends/f/routes" "$(curl -s "$API/api/providers/file/frontends/f/routes")" '{"r":{"rule":"Host:a.local"}}'
check_eq "…/frontends/g/routes/r1" "$(curl -s "$API/api/providers/file/frontends/g/routes/r1")" '{"rule":"Host:dead.local"}'
check_eq "…/backends map" "$(curl -s "$API/api/providers/file/backends" | jq -c keys)" '["b","dead"]'
check_eq "…/frontends map" "$(curl -s "$API/api/providers/file/frontends" | jq -c keys)" '["f","g","h"]'
check_eq "…/backends/b/servers map" "$(curl -s "$API/api/providers/file/backends/b/servers" | jq -c keys)" '["s1","s2"]'
for p in /api/providers/docker /api/providers/file/backends/nope /api/providers/file/frontends/nope \
	/api/providers/file/frontends/f/servers /api/providers/file/backends/b/routes \
	/api/providers/file/backends/b/servers/s9 /api/providers/file/nope /api/nope; do
	code=$(curl -s -o "$T/body" -w '%{http_code}' "$API$p")
	check_eq "404 for $p" "$code:$(cat "$T/body")" "404:404 page not found"
done

# --- redirect, ping, version, dashboard
resp=$(curl -s -D - "$API/")
check_match "/ -> 302" "$resp" "^HTTP/1.1 302 Found"
check_match "Location /dashboard/" "$resp" $'Location: /dashboard/\r'
check_match "redirect body like Go's" "$resp" '<a href="/dashboard/">Found</a>.'
resp=$(curl -s -D - -H 'X-Forwarded-Prefix: /traefik' "$API/")
check_match "X-Forwarded-Prefix honoured" "$resp" $'Location: /traefik/dashboard/\r'
check_eq "/ping -> OK" "$(curl -s -w ' %{http_code}' "$API/ping")" "OK 200"
check_eq "HEAD /ping -> 200" "$(curl -s -I -o /dev/null -w '%{http_code}' "$API/ping")" 200
check_eq "/api/version" "$(curl -s "$API/api/version")" '{"Version":"v1.7.34","Codename":"maroilles"}'
check_match "/dashboard/ serves the page" "$(curl -s "$API/dashboard/")" "<title>spliced dashboard</title>"

# --- read-only
for m in POST PUT DELETE PATCH; do
	check_eq "$m /api -> 405" "$(curl -s -o /dev/null -w '%{http_code}' -X "$m" "$API/api")" 405
done

# --- /health: exact deltas over known traffic
h1=$(curl -s "$API/health")
for i in 1 2 3 4 5; do curl -s -o /dev/null -H 'Host: a.local' "$URL/x?i=$i"; done
curl -s -o /dev/null -H 'Host: nobody.local' "$URL/missing?q=1"
curl -s -o /dev/null -H 'Host: nobody.local' "$URL/missing2"
curl -s -o /dev/null -H 'Host: dead.local' "$URL/down"
h2=$(curl -s "$API/health")
d() { echo $(( $(echo "$h2" | jq "$1 // 0") - $(echo "$h1" | jq "$1 // 0") )); }
# the first /health is counted once it has answered: one more 200 between the two snapshots
check_eq "health: 200s moved by 5 proxied + 1 API" "$(d '.total_status_code_count["200"]')" 6
check_eq "health: 404s moved by 2" "$(d '.total_status_code_count["404"]')" 2
check_eq "health: 502 from the dead backend" "$(d '.total_status_code_count["502"]')" 1
check_eq "health: total_count moved by 9" "$(d '.total_count')" 9
check_ge "health: total_response_size grew by the bodies" "$(d '.total_response_size')" 2000
check_eq "health: pid" "$(echo "$h2" | jq .pid)" "$SPLICED_PID"
check_eq "health: field order is thoas/stats'" "$(echo "$h2" | jq -c 'keys_unsorted')" \
	'["pid","hostname","uptime","uptime_sec","time","unixtime","status_code_count","total_status_code_count","count","total_count","total_response_time","total_response_time_sec","total_response_size","average_response_size","average_response_time","average_response_time_sec","total_metrics_counts","average_metrics_timers","recent_errors"]'
check_match "health: uptime is a Go duration" "$(echo "$h2" | jq -r .uptime)" '^([0-9]+h)?([0-9]+m)?[0-9.]+(s|ms|µs)$'
check_match "health: time is Go's Time.String()" "$(echo "$h2" | jq -r .time)" \
	'^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8}(\.[0-9]+)? [+-][0-9]{4} [A-Z]+ m=\+[0-9]+\.[0-9]{9}$'
check_eq "health: newest error first (502 /down)" "$(echo "$h2" | jq -c '.recent_errors[0] | [.status_code,.status,.method,.host,.path]')" \
	'[502,"Bad Gateway","GET","dead.local","/down"]'
check_eq "health: then the 404s, path without query" "$(echo "$h2" | jq -c '[.recent_errors[1].path,.recent_errors[2].path]')" \
	'["/missing2","/missing"]'
check_match "health: error time is RFC 3339" "$(echo "$h2" | jq -r '.recent_errors[0].time')" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}(\.[0-9]+)?(Z|[+-][0-9:]{5})$'
avg=$(echo "$h2" | jq '(.total_response_time_sec / .total_count) - .average_response_time_sec | fabs < 0.000001')
check_eq "health: average = total / count" "$avg" true
sleep 2.2
h3=$(curl -s "$API/health")
check_eq "health: the 1-second window is empty after 2 s idle" "$(echo "$h3" | jq -c '[.count,.status_code_count]')" '[0,{}]'

# --- recent errors are capped at --api.statistics.recentErrors (10)
for i in $(seq 14); do curl -s -o /dev/null -H 'Host: nobody.local' "$URL/e$i"; done
h4=$(curl -s "$API/health")
check_eq "recent_errors capped at 10" "$(echo "$h4" | jq '.recent_errors | length')" 10
check_eq "recent_errors newest is the last sent" "$(echo "$h4" | jq -r '.recent_errors[0].path')" /e14

# --- /metrics
curl -s -D "$T/mh" -o "$T/metrics" "$API/metrics"
check "metrics content type is the text format 0.0.4" grep -qi '^Content-Type: text/plain; version=0.0.4' "$T/mh"
out=$("$PROMCHECK" "$T/metrics")
check_match "metrics pass the strict exposition checker" "$out" "^valid:"
if command -v promtool >/dev/null; then
	check "promtool check metrics" promtool check metrics <"$T/metrics"
else
	echo "note: promtool not installed (Debian package prometheus); strict checker only"
fi
metric() { awk -v k="$1" '$1 == k { print $2 }' "$T/metrics"; }
check_eq "entrypoint http GET 200 count" "$(metric 'traefik_entrypoint_requests_total{code="200",entrypoint="http",method="GET",protocol="http"}')" 5
check_eq "entrypoint http GET 404 count" "$(metric 'traefik_entrypoint_requests_total{code="404",entrypoint="http",method="GET",protocol="http"}')" 16
check_eq "backend b 200 count (summed over servers)" "$(metric 'traefik_backend_requests_total{backend="b",code="200",method="GET",protocol="http"}')" 5
check_eq "backend dead 502 count" "$(metric 'traefik_backend_requests_total{backend="dead",code="502",method="GET",protocol="http"}')" 1
check_eq "histogram count = requests" "$(metric 'traefik_backend_request_duration_seconds_count{backend="b",code="200",method="GET",protocol="http"}')" 5
check_eq "histogram +Inf bucket" "$(metric 'traefik_backend_request_duration_seconds_bucket{backend="b",code="200",method="GET",protocol="http",le="+Inf"}')" 5
check_eq "server up" "$(metric "traefik_backend_server_up{backend=\"b\",url=\"http://127.0.0.1:$W2\"}")" 1
check_eq "open connections back to 0" "$(metric 'traefik_entrypoint_open_connections{entrypoint="http",method="GET",protocol="http"}')" 0
check_ge "API requests counted on entry point traefik" \
	"$(grep -F 'traefik_entrypoint_requests_total{code="200",entrypoint="traefik",method="GET"' "$T/metrics" | awk '{ n += $2 } END { print n + 0 }')" 15
check_eq "fast-path families present" "$(grep -c '^# TYPE spliced_fastpath_' "$T/metrics")" 8
check_eq "one reload so far" "$(metric traefik_config_reloads_total)" 1
check_eq "no failed reload" "$(metric traefik_config_reloads_failure_total)" 0
# a new file is a reload
sed -i 's/"weight":2/"weight":3/' "$CONF"
for _ in $(seq 50); do
	[ "$(curl -s "$API/api/providers/file/backends/b/servers/s2" | jq .weight)" = 3 ] && break
	sleep 0.1
done
check_eq "reloaded config visible in the API" "$(curl -s "$API/api/providers/file/backends/b/servers/s2" | jq .weight)" 3
curl -s -o "$T/metrics2" "$API/metrics"
check_eq "reload counted" "$(awk '$1 == "traefik_config_reloads_total" { print $2 }' "$T/metrics2")" 2
check "last reload time is recent" awk -v now="$(date +%s)" '$1 == "traefik_config_last_reload_success" { exit !($2 > now - 60 && $2 <= now + 1) }' "$T/metrics2"

# a backend leaving the configuration leaves /metrics too (Traefik drops outdated series)
jq -c 'del(.frontends.g) | del(.backends.dead)' "$CONF" >"$CONF.new" && mv "$CONF.new" "$CONF"
for _ in $(seq 50); do
	[ "$(curl -s "$API/api/providers/file/backends" | jq -c keys)" = '["b"]' ] && break
	sleep 0.1
done
curl -s -o "$T/metrics3" "$API/metrics"
check_eq "removed backend: no series left" "$(grep -c 'backend="dead"' "$T/metrics3")" 0
check_eq "kept backend: still counted" "$(awk '$1 == "traefik_backend_requests_total{backend=\"b\",code=\"200\",method=\"GET\",protocol=\"http\"}" { print $2 }' "$T/metrics3")" 5

# --- access log (common): one line per request, Traefik's fields
sleep 0.4	# buffers are written within 100 ms
ALOG=$T/logs/access.log
check "access log file created with its directory" test -s "$ALOG"
line=$(grep -m1 '"GET /x?i=1 ' "$ALOG")
check_match "common line: Traefik's layout" "$line" \
	"^127\.0\.0\.1 - - \[[0-9]{2}/[A-Z][a-z]{2}/[0-9]{4}:[0-9]{2}:[0-9]{2}:[0-9]{2} \+0000\] \"GET /x\?i=1 HTTP/1\.1\" 200 [0-9]+ \"-\" \"curl/[^\"]+\" [0-9]+ \"f\" \"http://127\.0\.0\.1:($W1|$W2)\" [0-9]+ms$"
line=$(grep -m1 '"GET /missing2 ' "$ALOG")
check_match "common line: no route -> Traefik's not-found handler (404 19, backend not found)" "$line" \
	'"GET /missing2 HTTP/1.1" 404 19 "-" "curl/[^"]+" [0-9]+ "backend not found" "/missing2" [0-9]+ms$'
check_match "common line: 502 from the dead server" "$(grep -m1 '"GET /down ' "$ALOG")" \
	"\" 502 [0-9]+ .* \"g\" \"http://127\.0\.0\.1:$DEAD\" [0-9]+ms$"
check_eq "one line per proxied request (5 + 2 + 1 + 14)" "$(grep -c '^127.0.0.1 - - .* "GET /\(x\|missing\|down\|e[0-9]\)' "$ALOG")" 22
check_ge "API requests logged too" "$(grep -c '"GET /health ' "$ALOG")" 4
counts=$(grep -o '" [0-9]* "[^"]*" "[^"]*" [0-9]* ' "$ALOG" | awk '{ print $(NF-1) }' | sort -n | uniq -d | wc -l)
check_eq "RequestCount unique per line" "$counts" 0

# --- log rotation: SIGUSR1 reopens --accessLog.filePath (as Traefik does)
mv "$ALOG" "$ALOG.1"
kill -USR1 "$SPLICED_PID"
sleep 0.2
curl -s -o /dev/null -H 'Host: a.local' -H 'X-Forwarded-For: 203.0.113.7' "$URL/after-rotate"
sleep 0.4
check "SIGUSR1: still running" kill -0 "$SPLICED_PID"
check "SIGUSR1: new requests go to the new file" grep -q '"GET /after-rotate ' "$ALOG"
check "SIGUSR1: the rotated file kept the old lines" grep -q '"GET /x?i=1 ' "$ALOG.1"
check_match "ClientHost is the incoming X-Forwarded-For, as Traefik logs it" "$(grep '"GET /after-rotate ' "$ALOG")" '^203\.0\.113\.7 - - \['

# --- stderr: one format for every line
printf 'GET / HTTP/1.1\r\nBad Header: x\r\n\r\n' | timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$P; cat >&3; cat <&3" >/dev/null
sleep 0.2
check "log lines all time=\"…\" level=… msg=\"…\"" awk '!/^time="[0-9TZ:+-]+" level=(debug|info|warning|error) msg=".*"$/ { print "bad: " $0; bad = 1 } END { exit bad }' "$T/spliced.log"
check "debug lines shown at --loglevel=DEBUG (a bad request head)" grep -q 'level=debug msg="client 127.0.0.1: bad request head' "$T/spliced.log"

# --- binds only where told
socks=$(ss -Hltnp | grep "pid=$SPLICED_PID," | awk '{ print $4 }' | sort -u | tr '\n' ' ')
check_eq "listens only on the two given addresses" "$socks" "$(printf '127.0.0.1:%s\n127.0.0.1:%s\n' "$P" "$A" | sort | tr '\n' ' ')"
stop "$SPLICED_PID"

# --- json access log on stdout, level ERROR: no info lines on stderr
P2=$(free_port)
start_spliced spliced2 "$P2" --file.filename="$CONF" --accessLog --accessLog.format=json --loglevel=ERROR
curl -s -o /dev/null -H 'Host: a.local' -H 'Referer: http://r.example/' "http://127.0.0.1:$P2/j?k=v"
curl -s -o /dev/null -H 'Host: nobody.local' "http://127.0.0.1:$P2/nf"
sleep 0.4
json=$(grep -m1 '"RequestPath":"/j?k=v"' "$T/spliced2.log")
check "json line parses" jq -e . <<<"$json"
check_eq "json: keys sorted (logrus)" "$(jq -c 'keys_unsorted == keys' <<<"$json")" true
check_eq "json: Traefik's core fields" "$(jq -c '[.FrontendName,.BackendName,.DownstreamStatus,.OriginStatus,.RequestMethod,.RequestHost,.RequestProtocol,.ClientHost,.level,.msg,."request_Referer"]' <<<"$json")" \
	'["f","b",200,200,"GET","a.local","HTTP/1.1","127.0.0.1","info","","http://r.example/"]'
check_match "json: BackendURL is Go's url.URL" "$(jq -c .BackendURL <<<"$json")" '^\{"Scheme":"http","Opaque":"","User":null,"Host":"127\.0\.0\.1:[0-9]+","Path":"",'
check_eq "json: sizes and durations are numbers" "$(jq -c '[.DownstreamContentSize,.Duration,.RequestCount] | map(type)' <<<"$json")" '["number","number","number"]'
check_match "json: StartUTC RFC 3339 nano" "$(jq -r .StartUTC <<<"$json")" '^[0-9-]{10}T[0-9:]{8}(\.[0-9]+)?Z$'
json=$(grep -m1 '"RequestPath":"/nf"' "$T/spliced2.log")
check_eq "json 404: Traefik's not-found handler fields" "$(jq -c '[.DownstreamStatus,.OriginStatus,.FrontendName,.BackendName,.BackendURL.Path,.DownstreamContentSize]' <<<"$json")" '[404,404,"backend not found","Traefik","/nf",19]'
check "no info lines at --loglevel=ERROR" bash -c "! grep -q 'level=info' '$T/spliced2.log'"
stop "$(eval echo \$PID_spliced2)"

# --- off without --api: the traefik entry point is a plain proxy entry point then
P3=$(free_port); A3=$(free_port)
start_spliced spliced3 "$P3" --file.filename="$CONF" "--entryPoints=Name:traefik Address:127.0.0.1:$A3"
wait_port 127.0.0.1 "$A3"
code=$(curl -s -o "$T/body" -w '%{http_code}' "http://127.0.0.1:$A3/api")
check_eq "no --api: /api is not served" "$code:$(cat "$T/body")" "404:404 page not found"
check_eq "no --api: /health not served" "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$A3/health")" 404
stop "$(eval echo \$PID_spliced3)"

# --- --ping and --metrics without --api, on their own entry point (Traefik's implicit one)
P4=$(free_port); A4=$(free_port)
start_spliced spliced4 "$P4" --file.filename="$CONF" --ping --metrics.prometheus \
	"--entryPoints=Name:traefik Address:127.0.0.1:$A4"
wait_port 127.0.0.1 "$A4"
if grep -q 'not served: entry point traefik carries proxied traffic' "$T/spliced4.log"; then
	# the workers still listen there (worker.c predates api_owns_entrypoint()): say so
	check_eq "ping-only: the operator is told why /ping is not served" \
		"$(grep -c 'level=warning msg="--ping.entryPoint=traefik: not served' "$T/spliced4.log")" 1
else
	check_eq "ping-only: /ping -> OK" "$(curl -s "http://127.0.0.1:$A4/ping")" OK
	check_match "ping-only: /metrics served" "$(curl -s "http://127.0.0.1:$A4/metrics")" "traefik_config_reloads_total"
	check_eq "ping-only: no API without --api" "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$A4/api")" 404
fi
