#!/bin/bash
# Fallbacks and the memory budget. A failing canary (test hook SPLICED_FASTPATH_CANARY_FAIL=1)
# leaves the fast path off with the reason logged (--fastpath=auto) or stops start-up
# (--fastpath=on); tunnels still work. A client pushing at full speed towards a backend that
# reads 1 MB/s must not eat memory without bound: MemAvailable with the default budget
# (32 MiB: the kernel throttles the sender past it), and without it (budget above anything
# pushed) to show the test can tell.
# asan-smoke
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/fastpath_common.bash"
suite_begin "integration/fastpath_fallback"
fp_init
echo "mode: fastpath=$FP_MODE"

fp_backend main || exit 1

if [ "$FP_MODE" = on ]; then
	# --fastpath=auto + failing canary: starts, relays, says why once.
	p=$(free_port)
	SPLICED_FASTPATH_CANARY_FAIL=1 spawn canary_auto "$IT/it_tunnel_proxy" --listen "$p" \
		--backend "$BE_main" --fastpath auto --pin "${PIN}_auto"
	for _ in $(seq 100); do grep -q '^ready' "$T/canary_auto.log" && break; sleep 0.05; done
	check_match "canary failure (auto): starts with the fast path off" "$(grep '^ready' "$T/canary_auto.log")" 'fastpath=off'
	check_eq "canary failure (auto): reason logged once" \
		"$(grep -c 'fastpath: off.*canary: failed on purpose: SPLICED_FASTPATH_CANARY_FAIL' "$T/canary_auto.log")" 1
	check_eq "canary failure (auto): nothing left pinned" "$(ls "${PIN}_auto" 2>/dev/null | wc -l)" 0
	check_client "canary failure (auto): tunnels relayed, byte-exact" "$p" 30 both 32M
	st=$(kill -USR1 "$PID_canary_auto"; sleep 0.3; grep '^stats' "$T/canary_auto.log" | tail -1)
	check_match "canary failure (auto): nothing spliced, canary=0" "$st" 'enabled=0 spliced=0 .*canary=0'

	# --fastpath=on + failing canary: start-up fails with a clear message.
	p=$(free_port)
	SPLICED_FASTPATH_CANARY_FAIL=1 timeout 10 "$IT/it_tunnel_proxy" --listen "$p" \
		--backend "$BE_main" --fastpath on --pin "${PIN}_on" >"$T/canary_on.log" 2>&1
	rc=$?
	check_eq "canary failure (on): start-up fails" "$rc" 1
	check_match "canary failure (on): message names the flag and the reason" \
		"$(cat "$T/canary_on.log")" '--fastpath=on but the kernel fast path is unusable: canary: failed on purpose'
fi

# --fastpath=off: nothing loaded, nothing pinned, still byte-exact.
p=$(free_port)
spawn off "$IT/it_tunnel_proxy" --listen "$p" --backend "$BE_main" --fastpath off \
	--pin "${PIN:-$T/nopin}_off"
for _ in $(seq 100); do grep -q '^ready' "$T/off.log" && break; sleep 0.05; done
check_match "--fastpath=off: starts relaying" "$(grep '^ready' "$T/off.log")" 'fastpath=off'
check_eq "--fastpath=off: nothing pinned" "$(ls "${PIN:-$T/nopin}_off" 2>/dev/null | wc -l)" 0
check_client "--fastpath=off: byte-exact" "$p" 30 both 32M

# Slow reader: push for 3 s to a backend reading 1 MB/s. MemAvailable is machine-wide and
# other work moves it too: take the best of up to 3 runs. Per direction the kernel holds at
# most the budget for the reader, plus what the sender got in before the throttle (its
# receive window, ~2 MiB on loopback) and the client's own send buffer.
budget=$((32 << 20))	# FASTPATH_DEFAULT_BUDGET
fp_proxy budget "$BE_main" || exit 1
best_drop=
for run in 1 2 3; do
	fp_client push_budget "$PX_budget" 30 push 3 1000000
	line=$(grep '^push' "$T/push_budget.out")
	echo "with the default budget (run $run): $line"
	acc=$(sed -E 's/.*accepted=([0-9]+).*/\1/' <<<"$line")
	drop=$(sed -E 's/.*memdrop_kb=(-?[0-9]+).*/\1/' <<<"$line")
	[ -z "$best_drop" ] || [ "$drop" -lt "$best_drop" ] && best_drop=$drop
	[ "$best_drop" -le $((160 << 10)) ] && break
done
check_le "slow reader, budget on: bytes accepted from the client stay bounded (MiB)" $((acc >> 20)) $(((budget >> 20) + 32))
check_le "slow reader, budget on: MemAvailable drop stays bounded (MiB)" $((best_drop >> 10)) $(((budget >> 20) + 128))
if [ "$FP_MODE" = on ]; then
	bl=$("$BUILD/tools/spliced-flows" --fastpath.pin "${PIN}_budget" --stats 2>&1 |
		sed -nE 's/^verdict:.* backlog_max=([0-9]+).*/\1/p')
	check_match "flow inspector reads the verdict stats" "$bl" '^[0-9]+$'
	check_le "slow reader, budget on: most bytes the kernel held for the reader (sp_stats)" "${bl:-999999999}" $budget
fi
if [ "$FP_MODE" = on ]; then
	st=$(fp_stats budget)
	echo "$st"
	check_ge "slow reader, budget on: the sender was throttled" "$(stat_field "$st" fb_budget)" 1
	fp_proxy nobudget "$BE_main" --budget $((64 << 30)) || exit 1
	fp_client push_nobudget "$PX_nobudget" 30 push 2 1000000
	line2=$(grep '^push' "$T/push_nobudget.out")
	echo "without a budget: $line2"
	acc2=$(sed -E 's/.*accepted=([0-9]+).*/\1/' <<<"$line2")
	check_ge "slow reader, no budget: the kernel takes far more (MiB, shows the test bites)" \
		$((acc2 >> 20)) $((4 * (acc >> 20) + 64))
fi
