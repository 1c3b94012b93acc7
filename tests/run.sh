#!/bin/bash
# Test runner: runs every suite of a level, shows each suite's summary and failing checks,
# and ends with one line "N passed, N failed[, N skipped]". Exit 1 if anything failed.
#
#   tests/run.sh all|unit|integration|swarm|asan
#
# asan: the unit suites plus the integration scripts marked with a line "# asan-smoke",
# run on the sanitizer build (BUILD=build-asan).
# A suite is a unit-test binary (build/tests/test_*) or a script (tests/<level>/*.sh).
# It prints "ok   name" / "FAIL name" per check and one line
# "<suite>: N tests, N passed, N failed"; exit 77 means skipped (its last line says why).
# Full output of each suite is kept in $BUILD/test-logs/.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
LEVEL=${1:-all}
LOGS=$BUILD/test-logs
mkdir -p "$LOGS"
export BUILD SPLICED_ROOT=$PWD

total_pass=0 total_fail=0 total_skip=0

run_suite() {	# name timeout-seconds command...
	local name=$1 limit=$2; shift 2
	local log=$LOGS/${name//\//_}.log rc summary p f t0 t1
	t0=$(date +%s)
	printf '%-34s ' "$name"
	timeout --kill-after=10 "$limit" "$@" >"$log" 2>&1 </dev/null
	rc=$?
	t1=$(date +%s)
	summary=$(grep -E '^[a-z0-9_/-]+: [0-9]+ tests, [0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
	if [ $rc = 77 ]; then
		total_skip=$((total_skip + 1))
		echo "SKIPPED: $(tail -1 "$log")"
		return
	fi
	if [ -z "$summary" ]; then
		total_fail=$((total_fail + 1))
		[ $rc = 124 ] && echo "FAILED: timed out after ${limit}s" || echo "FAILED: exit $rc, no summary"
		tail -20 "$log" | sed 's/^/    | /'
		return
	fi
	p=$(echo "$summary" | sed -E 's/.* ([0-9]+) passed.*/\1/')
	f=$(echo "$summary" | sed -E 's/.* ([0-9]+) failed.*/\1/')
	if [ "$f" = 0 ] && [ $rc != 0 ]; then
		f=1	# crashed or exited non-zero after its summary
		echo "$summary, but exit $rc ($((t1 - t0))s)"
		tail -20 "$log" | sed 's/^/    | /'
	else
		echo "${summary#*: } ($((t1 - t0))s)"
	fi
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
	grep -E '^FAIL ' "$log" | head -20 | sed 's/^/    /'
	if [ "$f" != 0 ]; then grep -A3 -E '^FAIL ' "$log" | grep -E '^ {5,}' | head -20 | sed 's/^/    /'; fi
}

run_units() {
	local t
	for t in "$BUILD"/tests/test_*; do
		[ -x "$t" ] || continue
		run_suite "unit/$(basename "$t" | sed 's/^test_//')" 300 "$t"
	done
}

run_scripts() {	# level [marker: only scripts with a line "# <marker>"]
	local s
	for s in tests/$1/*.sh; do
		[ -f "$s" ] || continue
		case $(basename "$s") in lib_*) continue ;; esac
		[ -n "${2:-}" ] && ! grep -q "^# $2\$" "$s" && continue
		run_suite "$1/$(basename "$s" .sh)" "${SUITE_TIMEOUT:-600}" bash "$s"
	done
}

case $LEVEL in
unit) run_units ;;
integration) run_scripts integration ;;
swarm) run_scripts swarm ;;
asan) run_units; run_scripts integration asan-smoke ;;
all) run_units; run_scripts integration; run_scripts swarm ;;
*) echo "usage: $0 all|unit|integration|swarm|asan" >&2; exit 2 ;;
esac

echo "logs: $LOGS/"
if [ $total_skip -gt 0 ]; then
	echo "$total_pass passed, $total_fail failed, $total_skip skipped"
else
	echo "$total_pass passed, $total_fail failed"
fi
[ $total_fail = 0 ]
