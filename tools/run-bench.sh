#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# `make bench`: every benchmark in one run, printed as numbers and ratios.
# Never part of `make test`.  Results are recorded in docs/BENCHMARKS.md.
set -u
cd "$(dirname "$0")/.."
SHARED=${IW_SHARED:-$(cd .. && pwd)/shared}
export IW_SHARED="$SHARED"
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

echo "== 2. iocwatch scan vs grep -cE on a 200,000-line log whose lines are all distinct"
# elastic-apache.log repeated, each line made distinct: client 10.x.y.z from
# the line number, and a query counter on the request target
LOGF="$OUT/distinct-200k.log"
if [ ! -s "$LOGF" ]; then
    i=0
    while [ $i -lt 21 ]; do cat "$SHARED/corpus/benign/elastic-apache.log"; i=$((i + 1)); done |
    awk 'NR > 200000 { exit }
         { n = NR; $1 = "10." int(n / 65536) % 256 "." int(n / 256) % 256 "." n % 256;
           q = index($7, "?") ? "&iwq=" n : "?iwq=" n; $7 = $7 q; print }' > "$LOGF"
fi
lines=$(wc -l < "$LOGF")
cpu() {  # least user+sys CPU seconds of 3 runs of a command (output to a file:
         # GNU grep stops at the first match when its output is /dev/null)
    b=""
    for _ in 1 2 3; do
        /usr/bin/time -f "%U %S" -o "$OUT/time.out" "$@" >"$OUT/best.out" 2>/dev/null
        b=$(tail -n 1 "$OUT/time.out" | awk -v b="$b" '{ t = $1 + $2; if (b == "" || t < b + 0) printf "%.3f", t; else print b }')
    done
    echo "$b"
}
PAT='\.\./|union.+select|<script|/etc/passwd|jndi:|cmd\.exe|wp-login|\.env'
SIGR="--rules $SIGMA/rules --rules $SIGMA/rules-emerging-threats"
SCAN="build/iocwatch scan --no-progress --jobs 1 --format combined"
: > "$OUT/empty.log"
tg=$(cpu grep -cE "$PAT" "$LOGF")
ts=$(cpu $SCAN $SIGR "$LOGF"); ts0=$(cpu $SCAN $SIGR "$OUT/empty.log")
tp=$(cpu $SCAN $SIGR --rules conf/rules "$LOGF"); tp0=$(cpu $SCAN $SIGR --rules conf/rules "$OUT/empty.log")
echo "$lines $tg $ts $ts0 $tp $tp0" | awk '{
    printf "grep -cE (8 alternatives):           %.3f CPU s  %9.0f lines per CPU second\n", $2, $1 / $2;
    printf "iocwatch scan, SigmaHQ (--jobs 1):   %.3f CPU s (%.3f s loading rules)  %9.0f lines per CPU second of scanning\n", $3, $4, $1 / ($3 - $4);
    printf "iocwatch scan, SigmaHQ + pack:       %.3f CPU s (%.3f s loading rules)  %9.0f lines per CPU second of scanning\n", $5, $6, $1 / ($5 - $6);
    printf "scan time / grep time: SigmaHQ %.1fx, SigmaHQ + pack %.1fx (target: >= 1,000,000 lines per CPU second with the pack)\n", ($3 - $4) / $2, ($5 - $6) / $2 }'

echo "== 2b. where a distinct line's evaluation goes, field by field (SigmaHQ + pack, first 20,000 lines)"
if [ -x build/bench/bench_fields ]; then
    build/bench/bench_fields --lines 20000 --rounds 3 "$LOGF" "$SIGMA/rules" "$SIGMA/rules-emerging-threats" conf/rules
else
    echo "bench_fields not built"
fi

echo "== 3. httpd throughput (wrk, 2 KB static file, keep-alive): module off vs on"
if [ -f tools/bench_httpd.py ]; then
    /usr/bin/python3 tools/bench_httpd.py
else
    echo "tools/bench_httpd.py missing"
fi

echo "== 4. httpd user-space instructions per request (callgrind, deterministic): module off vs on, floor"
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

echo "== 6. alert rendering per alert (callgrind, deterministic): iocwatch scan of the attack requests"
if command -v valgrind >/dev/null 2>&1; then
    /usr/bin/python3 tools/bench_alert.py
else
    echo "valgrind not installed (tools/install-deps.sh installs it)"
fi
