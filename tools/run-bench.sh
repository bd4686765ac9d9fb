#!/bin/sh
# `make bench`: every benchmark in one run, printed as numbers and ratios.
# Never part of `make test`.  Results are recorded in docs/BENCHMARKS.md.
set -u
cd "$(dirname "$0")/.."
SHARED=${IW_SHARED:-$(cd .. && pwd)/shared}
SIGMA="$SHARED/sigma/sigmahq-rules"
OUT=build/bench-out
mkdir -p "$OUT"

echo "== machine: $(nproc) cores, $(uname -m), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"

echo "== 1. engine: events/s with all SigmaHQ rules, then + 10,000 IoCs + 100,000 CIDRs"
if [ -x build/bench/bench_engine ]; then
    build/bench/bench_engine "$SHARED/sigma/sigmahq-rules" "$SHARED/corpus" 7
else
    echo "bench_engine not built"
fi

echo "== 2. iocwatch scan vs grep -cE on a 200,000-line combined log"
LOGF="$OUT/combined-200k.log"
if [ ! -s "$LOGF" ]; then
    i=0; : > "$LOGF"
    while [ $i -lt 20 ]; do cat "$SHARED/corpus/benign/elastic-apache.log" >> "$LOGF"; i=$((i + 1)); done
fi
lines=$(wc -l < "$LOGF")
best() {  # best of 3 wall-clock seconds of a command
    b=""
    for _ in 1 2 3; do
        # not >/dev/null: GNU grep stops at the first match when it sees it
        s=$(date +%s.%N); "$@" >"$OUT/best.out" 2>&1; e=$(date +%s.%N)
        b=$(awk -v s="$s" -v e="$e" -v b="$b" 'BEGIN { t = e - s; if (b == "" || t < b + 0) printf "%.4f", t; else print b }')
    done
    echo "$b"
}
PAT='\.\./|union.+select|<script|/etc/passwd|jndi:|cmd\.exe|wp-login|\.env'
tg=$(best grep -cE "$PAT" "$LOGF")
ts=$(best build/iocwatch scan --no-progress --format combined \
        --rules "$SIGMA/rules" --rules "$SIGMA/rules-emerging-threats" "$LOGF")
echo "$lines $tg $ts" | awk '{
    printf "grep -cE (8 alternatives): %.3f s  %.0f lines/s\n", $2, $1 / $2;
    printf "iocwatch scan (88 SigmaHQ rules): %.3f s  %.0f lines/s\n", $3, $1 / $3;
    printf "ratio scan/grep time: %.2fx (target <= 2x, >= 1,000,000 lines/s)\n", $3 / $2 }'

echo "== 3. httpd throughput (wrk, 2 KB static file, keep-alive): module off vs on"
if [ -f tools/bench_httpd.py ]; then
    /usr/bin/python3 tools/bench_httpd.py
else
    echo "tools/bench_httpd.py missing"
fi

echo "== 4. httpd user-space instructions per request (callgrind, deterministic): module off vs on"
if command -v valgrind >/dev/null 2>&1; then
    /usr/bin/python3 tools/bench_instr.py
else
    echo "valgrind not installed (tools/install-deps.sh installs it)"
fi

echo "== 5. ban check per request (callgrind, deterministic): the lookup alone, then the module hook"
if command -v valgrind >/dev/null 2>&1; then
    /usr/bin/python3 tools/bench_ban.py
else
    echo "valgrind not installed (tools/install-deps.sh installs it)"
fi
