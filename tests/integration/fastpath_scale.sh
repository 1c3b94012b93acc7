#!/bin/bash
# Scale and leaks: 1,000 concurrent flows (seen in the pinned maps and by the flow inspector
# while they live), then 100,000 short connections; afterwards no map entry and no file
# descriptor may be left behind. FP_MODE=off runs the same on the userspace relay.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/fastpath_common.bash"
suite_begin "integration/fastpath_scale"
fp_init
echo "mode: fastpath=$FP_MODE"
INSPECT=$BUILD/tools/spliced-flows

fp_backend main || exit 1
fp_proxy px "$BE_main" --threads 2 || exit 1
pid=$PXPID_px
ls "/proc/$pid/fd" >/dev/null || exit 1

# Warm up both worker threads (each keeps an epoll set once it has spliced), then count.
fp_client warm "$PX_px" 30 many 200 8
sleep 0.3
fds0=$(ls "/proc/$pid/fd" | wc -l)

# 1,000 flows at once, each held 2 s: look at them while they live.
fp_client conc "$PX_px" 120 conc $CONC 16k 2000 &
cpid=$!
seen=0 seen_socks=0 listed=0 spliced_seen=0
for _ in $(seq 100); do
	sleep 0.1
	if [ "$FP_MODE" = on ]; then
		n=$(map_count px sp_flows)
		[ "$n" -gt "$seen" ] && seen=$n
		k=$(map_count px sp_sockhash)
		[ "$k" -gt "$seen_socks" ] && seen_socks=$k
		if [ -x "$INSPECT" ] && [ "$n" -gt 0 ]; then
			out=$("$INSPECT" --fastpath.pin "${PIN}_px" 2>&1 | tail -1)
			l=$(sed -E 's/^([0-9]+) flows.*/\1/' <<<"$out")
			s=$(sed -E 's/.*: ([0-9]+) spliced.*/\1/' <<<"$out")
			[[ $l =~ ^[0-9]+$ ]] && [ "$l" -gt "$listed" ] && listed=$l
			[[ $s =~ ^[0-9]+$ ]] && [ "$s" -gt "$spliced_seen" ] && spliced_seen=$s
		fi
	fi
	kill -0 $cpid 2>/dev/null || break
done
if wait $cpid; then _ok "$CONC concurrent flows byte-exact ($(head -1 "$T/conc.out"))"; else _bad "$CONC concurrent flows" "$(tail -3 "$T/conc.out")"; fi
if [ "$FP_MODE" = on ]; then
	check_ge "flows visible in the pinned sp_flows map (bpftool) while they live" "$seen" $((CONC / 10))
	check_ge "their sockets visible in the pinned sp_sockhash (bpftool)" "$seen_socks" $((CONC / 5))
	if [ -x "$INSPECT" ]; then
		check_ge "flow inspector lists the live flows" "$listed" $((CONC / 10))
		check_ge "flow inspector shows spliced flows" "$spliced_seen" $((CONC / 20))
	fi
	st=$(fp_stats px)
	echo "$st"
	check_ge "concurrent flows were spliced" "$(stat_field "$st" spliced)" $((CONC / 2))
fi

# 100,000 short connections, 16 at a time: open, echo 32 bytes, half-close, EOF.
check_client "$MANY short connections byte-exact" "$PX_px" 200 many "$MANY" 16
sleep 0.5
st=$(fp_stats px)
echo "$st"
check_eq "no live tunnels left" "$(stat_field "$st" live)" 0
check_le "no file descriptors left (before: $fds0)" "$(ls "/proc/$pid/fd" | wc -l)" "$fds0"
if [ "$FP_MODE" = on ]; then
	check_ge "short connections were spliced" "$(stat_field "$st" spliced)" $((MANY / 2))
	check_eq "no active spliced flows left" "$(stat_field "$st" active)" 0
	for m in sp_flows sp_sides sp_sockhash sp_ctl; do
		check_eq "no $m entries left" "$(map_count px $m)" 0
	done
fi
check_eq "backend saw no bad stream" "$(grep -c '^result .* bad' "$T/be_main.log")" 0
