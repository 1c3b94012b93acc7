#!/bin/bash
# Integration: the dashboard in headless Chromium against a running spliced with traffic and
# one live tunnel (an Upgrade flow to whoami's echo, spliced in the kernel when the fast path
# loads here, else relayed). Asserts the rendered DOM shows the frontend, the servers with
# their state and the live flow, keeps a screenshot in $BUILD/test-logs/, and checks what
# feeds the page: /api/flows bytes each way while the flow runs, spliced_fastpath_bytes_total
# counting the kernel's bytes of a live flow, and the flow's access-log line once it ends.
. "$(dirname "$0")/../lib.sh"
suite_begin integration/dashboard
command -v chromium >/dev/null || skip "chromium is not installed (tools/deps.sh installs it)"
command -v jq >/dev/null || skip "jq is not installed"

SHOTS=$BUILD/test-logs
mkdir -p "$SHOTS"
PIN=
FP_FLAGS=(--fastpath=off)
if [ "$(id -u)" = 0 ] && mkdir -p "$T/bpffs" && mount -t bpf bpf "$T/bpffs" 2>/dev/null; then
	PIN=$T/bpffs/spliced
	FP_FLAGS=(--fastpath=auto "--fastpath.pin=$PIN")
fi
_dash_cleanup() {
	local p
	for p in "${_pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${_pids[@]}"; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	done
	[ -n "$PIN" ] && { umount "$T/bpffs" 2>/dev/null || umount -l "$T/bpffs"; }
}
trap '_rc=$?; _dash_cleanup; (exit $_rc); _suite_end' EXIT

W1=$(free_port); W2=$(free_port)
start_whoami w1 "$W1"
start_whoami w2 "$W2"
P=$(free_port); A=$(free_port)
file_conf "$T/conf.json" a.local "http://127.0.0.1:$W1" "http://127.0.0.1:$W2"
start_spliced spliced "$P" --file.filename="$T/conf.json" --api --metrics.prometheus "${FP_FLAGS[@]}" \
	"--entryPoints=Name:traefik Address:127.0.0.1:$A" --accessLog --accessLog.filePath="$T/access.log"
wait_port 127.0.0.1 "$A"
API=http://127.0.0.1:$A
fp=$(curl -s "$API/api/flows" | jq -r .fastpath.enabled)
want_mode=relayed
[ "$fp" = true ] && want_mode=spliced
echo "# fast path: $fp (flows are expected $want_mode)"

for i in $(seq 20); do curl -s -o /dev/null -H 'Host: a.local' "http://127.0.0.1:$P/?i=$i"; done
for i in 1 2 3; do curl -s -o /dev/null -H 'Host: nobody.local' "http://127.0.0.1:$P/nf$i"; done

# --- a live flow: Upgrade to whoami's echo, 1 MiB each way, then left open
exec 3<>"/dev/tcp/127.0.0.1/$P"
printf 'GET /ws HTTP/1.1\r\nHost: a.local\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n' >&3
cat <&3 >"$T/ws.out" &
CAT_PID=$!
_pids+=("$CAT_PID")
for _ in $(seq 100); do grep -q '^HTTP/1.1 101' "$T/ws.out" 2>/dev/null && break; sleep 0.05; done
check "101 Switching Protocols through spliced" grep -q '^HTTP/1.1 101' "$T/ws.out"
head -c 1048576 /dev/urandom >&3
for _ in $(seq 100); do
	[ "$(stat -c %s "$T/ws.out")" -ge 1048576 ] && break
	sleep 0.05
done
check_ge "1 MiB echoed back through the flow" "$(stat -c %s "$T/ws.out")" 1048576

flows=$(curl -s "$API/api/flows")
check_eq "/api/flows lists one live flow" "$(echo "$flows" | jq '.flows | length')" 1
check_eq "flow mode" "$(echo "$flows" | jq -r '.flows[0].mode')" "$want_mode"
check_eq "flow frontend and backend" "$(echo "$flows" | jq -r '.flows[0] | .frontend + " " + .backend')" "f b"
check_ge "flow bytes client->server" "$(echo "$flows" | jq '.flows[0].bytes_c2b')" 1048576
check_ge "flow bytes server->client" "$(echo "$flows" | jq '.flows[0].bytes_b2c')" 1048576
curl -s -o "$T/metrics" "$API/metrics"
kb=$(awk '$1 == "spliced_fastpath_bytes_total{direction=\"client_to_backend\"}" { print $2 }' "$T/metrics")
if [ "$want_mode" = spliced ]; then
	check_ge "live kernel bytes in spliced_fastpath_bytes_total (read from sp_flows)" "$kb" 1000000
	check_eq "spliced_tunnel_flows{mode=spliced} 1" \
		"$(awk '$1 == "spliced_tunnel_flows{mode=\"spliced\"}" { print $2 }' "$T/metrics")" 1
else
	check_eq "no kernel bytes without the fast path" "$kb" 0
fi
check_eq "websocket request in flight (open connections gauge)" \
	"$(awk '$1 == "traefik_entrypoint_open_connections{entrypoint=\"http\",method=\"GET\",protocol=\"websocket\"}" { print $2 }' "$T/metrics")" 1

# --- the page in Chromium
chrome() {
	timeout 90 chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
		--disable-component-update --no-first-run --disable-sync --hide-scrollbars \
		--user-data-dir="$T/chrome" --virtual-time-budget=4000 "$@" 2>>"$T/chrome.log"
}
chrome --dump-dom "$API/dashboard/" >"$T/dom.html"
cp "$T/dom.html" "$SHOTS/dashboard.dom.html"
dom=$(cat "$T/dom.html")
check_match "page loaded its data" "$dom" 'data-loaded="1"'
check_match "DOM: frontend f" "$dom" 'class="frontend" data-frontend="f"'
check_match "DOM: the frontend's rule" "$dom" '<code>Host:a.local</code>'
check_match "DOM: server s1 up" "$dom" "class=\"server\" data-backend=\"b\" data-server=\"s1\" data-url=\"http://127.0.0.1:$W1\" data-state=\"up\""
check_match "DOM: server s2 up" "$dom" "data-url=\"http://127.0.0.1:$W2\" data-state=\"up\""
check_match "DOM: the live flow, $want_mode" "$dom" "class=\"flow\" data-mode=\"$want_mode\"[^>]*data-frontend=\"f\""
check_match "DOM: entry point http" "$dom" 'class="entrypoint" data-entrypoint="http"'
check_match "DOM: recent 404s listed" "$dom" '<code>/nf3</code>'
bytes_shown=$(grep -o 'data-bytes="[0-9]*"' "$T/dom.html" | head -1 | grep -o '[0-9]*')
check_ge "DOM: flow bytes shown" "${bytes_shown:-0}" 1048576
chrome --window-size=1400,1100 --screenshot="$SHOTS/dashboard.png" "$API/dashboard/" >/dev/null
check_eq "screenshot kept as PNG in $SHOTS" "$(head -c 8 "$SHOTS/dashboard.png" 2>/dev/null | od -An -tx1 | tr -d ' ')" 89504e470d0a1a0a
echo "# screenshot: $SHOTS/dashboard.png"

# --- the flow ends: one access-log line with its bytes, flows list empty
exec 3>&-
kill "$CAT_PID"	# the last holder of the socket: the client side closes
for _ in $(seq 100); do
	[ "$(curl -s "$API/api/flows" | jq '.flows | length')" = 0 ] && break
	sleep 0.05
done
check_eq "flow gone from /api/flows" "$(curl -s "$API/api/flows" | jq '.flows | length')" 0
sleep 0.4
line=$(grep '"GET /ws HTTP/1.1"' "$T/access.log")
check_match "access log: one line for the tunnel, 101, with the echoed bytes" "$line" \
	'"GET /ws HTTP/1.1" 101 ([0-9]+) "-" "-" [0-9]+ "f" "http://127\.0\.0\.1:[0-9]+" [0-9]+ms$'
sz=$(echo "$line" | awk '{ print $10 }')
check_ge "access log: size counts the tunnel's bytes" "${sz:-0}" 1048576
curl -s -o "$T/metrics2" "$API/metrics"
check_eq "websocket request counted as 101 once it ended" \
	"$(awk '$1 == "traefik_entrypoint_requests_total{code=\"101\",entrypoint=\"http\",method=\"GET\",protocol=\"websocket\"}" { print $2 }' "$T/metrics2")" 1
if [ "$want_mode" = spliced ]; then
	check_ge "kernel bytes kept after the flow ended" \
		"$(awk '$1 == "spliced_fastpath_bytes_total{direction=\"backend_to_client\"}" { print $2 }' "$T/metrics2")" 1000000
fi

# --- a bulk download (above --fastpath.bulkThreshold, 1 MiB): handed to a tunnel too, one
# access-log line with every byte, kernel or not
got=$(curl -s -o /dev/null -w '%{http_code} %{size_download}' -H 'Host: a.local' "http://127.0.0.1:$P/data?size=3m")
check_eq "3 MiB download through spliced" "$got" "200 3145728"
sleep 0.4
check_match "access log: the bulk download's line counts all 3 MiB" \
	"$(grep '"GET /data?size=3m HTTP/1.1"' "$T/access.log")" '" 200 3145728 "-" "curl/[^"]+" [0-9]+ "f" '
curl -s -o "$T/metrics3" "$API/metrics"
check_eq "the download counted once as 200 on backend b" \
	"$(grep -F 'traefik_backend_requests_total{backend="b",code="200",method="GET",protocol="http"}' "$T/metrics3" | awk '{ print $2 }')" 21
if [ "$want_mode" = spliced ]; then
	check_ge "kernel carried most of the download (spliced_fastpath_bytes_total b2c grew)" \
		$(( $(awk '$1 == "spliced_fastpath_bytes_total{direction=\"backend_to_client\"}" { print $2 }' "$T/metrics3") - \
		    $(awk '$1 == "spliced_fastpath_bytes_total{direction=\"backend_to_client\"}" { print $2 }' "$T/metrics2") )) 1048576
fi
