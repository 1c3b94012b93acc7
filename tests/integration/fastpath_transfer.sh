#!/bin/bash
# Byte-exact transfers through tunnel_start(): 1 GiB each way and both at once, half-close
# each way, many small writes, a client that talks before the backend answers, FIN and RST
# both ways, and the late splice of bulk bodies (download and upload, with byte limits).
# Runs with the kernel fast path on (FP_MODE=on, default) or on the userspace relay
# (fastpath_relay.sh sets FP_MODE=off). Every client checks every byte.
# asan-smoke
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/fastpath_common.bash"
suite_begin "integration/fastpath_transfer${SUITE_SUFFIX:-}"
fp_init
echo "mode: fastpath=$FP_MODE"
# Share of a "big" flow the kernel must carry, in tenths. The sanitizer build relays several
# times slower, so a catch-up (after a peer inserted late) takes a larger share of 64 MiB.
KSHARE=9
[ "${SPLICED_SMOKE:-0}" = 1 ] && KSHARE=5

fp_backend main || exit 1
# "def" runs with the default budget (32 MiB), "big" with a budget above the transfer size
# (the kernel carries all of it), "tight" with 4 MiB: a fast loopback source soon outruns
# the reader, so its flows are throttled and caught up in userspace over and over, and the
# verdict must take them back each time without a byte out of place.
fp_proxy def "$BE_main" || exit 1
fp_proxy big "$BE_main" --budget $((3 << 30)) || exit 1
fp_proxy tight "$BE_main" --budget $((4 << 20)) || exit 1
fp_proxy down "$BE_main" --mode download || exit 1
fp_proxy gap "$BE_main" --insert-gap-us 100000 --budget $((3 << 30)) || exit 1
fp_proxy up "$BE_main" --mode upload || exit 1
[ "$FP_MODE" = on ] && check_match "proxy runs with the fast path on" "$(head -1 "$T/px_def.log")" 'fastpath=on|canary passed'

# Big budget: the kernel carries the whole transfer; every byte must arrive.
if [ "$FP_MODE" = on ]; then
	check_client "big: $BIG backend->client, then FIN" "$PX_big" 60 down $BIG
	check_client "big: $BIG client->backend, client half-closes, backend answers" "$PX_big" 60 up $BIG
	check_client "big: $BIG each way at once" "$PX_big" 90 both $BIG
fi
# The backend talks at once and its socket goes into the map 100 ms before the client's: the
# verdict cannot redirect meanwhile and passes those bytes to userspace. Once they are relayed
# the kernel must take the direction back (it used to relay the rest of the flow in userspace).
# Budget above the transfer, as for "big": no throttle mixes in.
if [ "$FP_MODE" = on ]; then
	check_client "backend first, peer inserted late: $BIG down, byte-exact" "$PX_gap" 60 down $BIG
	st=$(fp_stats gap)
	echo "$st"
	echo "$("$BUILD/spliced" flows --fastpath.pin "${PIN}_gap" --stats | grep verdict)"
	check_ge "peer inserted late: the verdict met the missing peer" \
		"$("$BUILD/spliced" flows --fastpath.pin "${PIN}_gap" --stats | sed -n 's/.*redirect_fail=\([0-9]*\).*/\1/p')" 1
	# The catch-up ends once userspace relays faster than the sender refills: 200-1,200
	# skbs passed in 12 runs here (93-99% in the kernel). The sanitizer build relays too
	# slowly for that to be a fair check (one run in three never caught up).
	if [ "${SPLICED_SMOKE:-0}" = 1 ]; then
		echo "# sanitizer build: whether the kernel took the flow back is not checked"
	else
		check_ge "peer inserted late: the verdict resumed redirecting" \
			"$("$BUILD/spliced" flows --fastpath.pin "${PIN}_gap" --stats | sed -n 's/.*resumed=\([0-9]*\).*/\1/p')" 1
		check_ge "peer inserted late: the kernel took the flow back (75%+ of the bytes)" \
			"$(stat_field "$st" kbytes_b2c)" $(( $(numfmt --from=iec "$BIG") * 3 / 4 ))
	fi
fi
# Default and tight budgets: throttles, catch-ups and resumes; every byte must arrive (a
# retransmission the kernel hands the verdict twice is trimmed, never reset or forwarded).
for px in def tight; do
	eval "port=\$PX_$px"
	for sc in down up both; do
		check_client "$px budget: $BIG $sc, byte-exact" "$port" 90 $sc $BIG
	done
done
if [ "$FP_MODE" = on ]; then
	st=$(fp_stats big)
	echo "$st"
	# All but what came before the splice (relayed while emptying the sockets) and what a
	# peer inserted a moment late made the verdict pass (see "gap" above).
	want=$(( $(numfmt --from=iec "$BIG") * 2 * KSHARE / 10 ))
	check_ge "big budget: kernel carried the client->backend bytes (${KSHARE}0%+)" "$(stat_field "$st" kbytes_c2b)" $want
	check_ge "big budget: kernel carried the backend->client bytes (${KSHARE}0%+)" "$(stat_field "$st" kbytes_b2c)" $want
	check_eq "big budget: no duplicate-bytes resets" "$(stat_field "$st" fb_dup)" 0
	st=$(fp_stats def)
	echo "$st"
	check_eq "default budget: no duplicate-bytes resets" "$(stat_field "$st" fb_dup)" 0
	check_ge "default budget: flows were spliced" "$(stat_field "$st" spliced)" 3
	st=$(fp_stats tight)
	echo "$st"
	check_eq "tight budget: no duplicate-bytes resets" "$(stat_field "$st" fb_dup)" 0
	check_ge "tight budget: the senders were throttled" "$(stat_field "$st" fb_budget)" 3
	check_ge "tight budget: the verdict took throttled flows back" "$(fp_verdict tight resumed)" 1
	# 4 x $BIG went through "tight"; the kernel must have carried a sixteenth at least.
	check_ge "tight budget: the kernel carried bytes after catch-ups (MiB)" \
		$(( ($(stat_field "$st" kbytes_c2b) + $(stat_field "$st" kbytes_b2c)) >> 20 )) \
		$(( $(numfmt --from=iec "$BIG") >> 22 ))
	echo "verdict (tight): trimmed=$(fp_verdict tight trimmed) bytes=$(fp_verdict tight trimmed_bytes) resumed=$(fp_verdict tight resumed)"
fi

port=$PX_def
check_client "backend half-closes first, client keeps sending" "$port" 30 halfb 4M 4M
sleep 0.3
check_match "backend got the client's bytes after its own FIN, then EOF" \
	"$(grep '^result SOURCE' "$T/be_main.log" | tail -1)" "ok got=4194304"
check_client "many small writes, pipelined and ping-pong" "$port" 30 small 20000
check_client "client sends before the backend reads (200 ms late)" "$port" 30 early 8M
check_client "backend reset reaches the client as ECONNRESET" "$port" 10 brst
n0=$(grep -c '^result WAITRST' "$T/be_main.log")
fp_client rst "$port" 10 rst
for _ in $(seq 50); do [ "$(grep -c '^result WAITRST' "$T/be_main.log")" -gt "$n0" ] && break; sleep 0.1; done
check_match "client reset reaches the backend as a reset" "$(grep '^result WAITRST' "$T/be_main.log" | tail -1)" "ok peer-rst"

# Late splice: heads in userspace, then the body with a byte limit (HTTP bulk-body policy).
check_client "late splice download $BIG (head and body in one write)" "$PX_down" 60 get $BIG
check_client "late splice upload $BIG" "$PX_up" 60 put $BIG
bad=0
for i in $(seq 40); do
	sz=$(( (i * 7919) % 300 + 1 ))k
	fp_client "get_$i" "$PX_down" 10 get "$sz" || { bad=$((bad + 1)); tail -2 "$T/get_$i.out"; }
	fp_client "put_$i" "$PX_up" 10 put "$sz" || { bad=$((bad + 1)); tail -2 "$T/put_$i.out"; }
done
check_eq "80 small late-splice bodies (1-300 KiB) byte-exact" "$bad" 0
if [ "$FP_MODE" = on ]; then
	st=$(fp_stats down)
	echo "$st"
	check_ge "late downloads were spliced" "$(stat_field "$st" spliced)" 1
	check_eq "late downloads: no duplicate-bytes resets" "$(stat_field "$st" fb_dup)" 0
	st=$(fp_stats up)
	echo "$st"
	check_ge "late uploads were spliced" "$(stat_field "$st" spliced)" 1
	check_eq "late uploads: no duplicate-bytes resets" "$(stat_field "$st" fb_dup)" 0
fi
check_eq "backend saw no wrong byte" "$(grep -c '^result .* bad' "$T/be_main.log")" 0
