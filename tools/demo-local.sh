#!/bin/bash
# Local demo (no Docker): 4 whoami backends and spliced on the file provider, on loopback.
# Shows the round robin, a 404 and a bulk download, then stops everything it started.
set -u
cd "$(dirname "$0")/.."
B=${BUILD:-build}
T=$(mktemp -d /tmp/spliced-demo.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$T"
	echo "demo: stopped everything it started"
}
trap cleanup EXIT
port() { local p; while :; do p=$((20000 + RANDOM % 40000)); ss -Htan "sport = :$p" | grep -q . || { echo $p; return; }; done; }

echo "demo: starting 4 whoami backends on 127.0.0.1"
servers=""
for i in 1 2 3 4; do
	p=$(port)
	"$B/tools/whoami" --addr 127.0.0.1 --port "$p" --name "whoami-$i" >"$T/w$i.log" 2>&1 &
	pids+=($!)
	servers="$servers${servers:+,}\"s$i\":{\"url\":\"http://127.0.0.1:$p\"}"
done
cat >"$T/conf.json" <<JSON
{"frontends":{"whoami":{"backend":"whoami","routes":{"r":{"rule":"Host:whoami.docker.localhost"}}}},
 "backends":{"whoami":{"servers":{$servers}}}}
JSON
P=$(port)
echo "demo: starting spliced --file.filename=$T/conf.json on 127.0.0.1:$P"
"$B/spliced" "--entryPoints=Name:http Address:127.0.0.1:$P" --file.filename="$T/conf.json" \
	--loglevel=INFO >"$T/spliced.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$P/" && break; sleep 0.1; done

echo
echo "\$ for i in \$(seq 8); do curl -s -H 'Host: whoami.docker.localhost' http://127.0.0.1:$P/ | grep Name; done"
for i in $(seq 8); do curl -s -H 'Host: whoami.docker.localhost' "http://127.0.0.1:$P/" | grep '^Name'; done
echo
echo "\$ curl -s -w ' -> %{http_code}\\n' -H 'Host: unknown.localhost' http://127.0.0.1:$P/"
curl -s -w ' -> %{http_code}\n' -H 'Host: unknown.localhost' "http://127.0.0.1:$P/" | tr -d '\n'; echo
echo
echo "\$ curl -s -o /dev/null -w '%{size_download} bytes at %{speed_download} B/s\\n' -H 'Host: whoami.docker.localhost' 'http://127.0.0.1:$P/data?size=1g'"
curl -s -o /dev/null -w '%{size_download} bytes at %{speed_download} B/s\n' -H 'Host: whoami.docker.localhost' "http://127.0.0.1:$P/data?size=1g"
echo
echo "demo: spliced log:"
sed 's/^/  /' "$T/spliced.log"
