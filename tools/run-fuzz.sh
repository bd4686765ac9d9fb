#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# `make fuzz`: run each libFuzzer target (build-fuzz/lf/, built by
# `make fuzz-build`) for FUZZ_SECONDS (default 600), one after the other,
# at low priority.  Per target NAME in build-fuzz/:
#   seeds/NAME      the target's seeds (written by the target itself)
#   corpus/NAME     the corpus libFuzzer grows (kept between runs)
#   artifacts/NAME  inputs that crashed or failed a check (replay:
#                   build-fuzz/lf/NAME FILE)
#   logs/NAME.log   libFuzzer's output
# Ends with one line per target (executions, coverage, duration) and
# "make fuzz: N passed, N failed".  Usage: tools/run-fuzz.sh [NAME...]
set -u
cd "$(dirname "$0")/.."
B=${FUZZ_BUILD:-build-fuzz}
SECS=${FUZZ_SECONDS:-600}
: "${IW_SRCDIR:=$PWD}"
export IW_SRCDIR
# per target: the longest input worth trying
maxlen() {
    case $1 in
    fuzz_rules) echo 16384 ;;
    fuzz_logfmt) echo 20000 ;;
    *) echo 16384 ;;
    esac
}
targets=${*:-$(for f in $B/lf/*; do [ -x "$f" ] && basename "$f"; done)}
passed=0; failed=0; summary=""
mkdir -p $B/logs
for t in $targets; do
    bin=$B/lf/$t
    [ -x "$bin" ] || { echo "run-fuzz: $bin not built (make fuzz-build)" >&2; failed=$((failed + 1)); continue; }
    rm -rf "$B/seeds/$t"
    mkdir -p "$B/corpus/$t" "$B/artifacts/$t"
    mkdir -p "$B/seeds"
    IW_FUZZ_WRITE_SEEDS=$B/seeds/$t ASAN_OPTIONS=detect_leaks=0 "$bin" >/dev/null 2>&1 \
        || echo "run-fuzz: $t: could not write its seeds" >&2
    mkdir -p "$B/seeds/$t"
    echo "==> $t: $SECS s ($(date -u '+%Y-%m-%d %H:%M UTC'))"
    start=$(date +%s)
    nice -n 19 "$bin" -max_total_time="$SECS" -timeout=60 -rss_limit_mb=4096 \
        -max_len="$(maxlen "$t")" -print_final_stats=1 \
        -artifact_prefix="$B/artifacts/$t/" "$B/corpus/$t" "$B/seeds/$t" \
        >"$B/logs/$t.log" 2>&1
    rc=$?
    secs=$(( $(date +%s) - start ))
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$B/logs/$t.log" | tail -n 1)
    last=$(grep -E '^#[0-9]+' "$B/logs/$t.log" | tail -n 1)
    cov=$(echo "$last" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
    ft=$(echo "$last" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
    corp=$(echo "$last" | sed -n 's/.*corp: \([0-9]*\).*/\1/p')
    line="$t: ${runs:-?} executions, cov ${cov:-?} edges, ft ${ft:-?} features, corpus ${corp:-?}, ${secs} s"
    if [ $rc = 0 ]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        line="$line -- FAILED (rc $rc; $B/logs/$t.log, $B/artifacts/$t/)"
        grep -E 'ERROR|runtime error|SUMMARY|^fuzz_' "$B/logs/$t.log" | head -n 5
    fi
    echo "$line"
    summary="$summary$line
"
done
printf '%s' "$summary"
echo "make fuzz: $passed passed, $failed failed"
[ "$failed" = 0 ]
