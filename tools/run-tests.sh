#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# `make test`: every suite, in order, then one closing line that adds them up.
#   1. unit tests (normal build)          build/unit_tests
#   2. unit tests + fuzz drivers under ASan+UBSan (build-asan/)
#   3. the shipped rule pack checks       iocwatch check conf/rules
#   4. pytest: CLI conformance (SigmaHQ), rule pack cases, integration on a
#      real httpd (event/worker/prefork) + real rsyslogd
#   5. the package and the runtime image in podman containers (tests/package)
# IW_SKIP_ASAN=1 / IW_SKIP_INTEGRATION=1 skip stages (for quick local runs).
set -u
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
LOG=build/test-logs
mkdir -p "$LOG"
passed=0; failed=0; stages_failed=""

count() {   # count FILE: add every closing line in it (ours: "x: N passed, N failed";
            # pytest: "... N passed, N failed ... in 12.3s")
    set -- $(grep -E '(: [0-9]+ passed, [0-9]+ failed|^[0-9]+ passed, [0-9]+ failed|(passed|failed|error).* in [0-9.]+s)' "$1" | awk '{
        for (i = 2; i <= NF; i++) {
            w = $i; gsub(/[^a-z]/, "", w); n = $(i - 1) + 0
            if (w == "passed") p += n; else if (w == "failed" || w == "error" || w == "errors") f += n
        } } END { print p + 0, f + 0 }')
    passed=$((passed + ${1:-0})); failed=$((failed + ${2:-0}))
}

stage() {   # stage NAME CMD...: run, tee the log, count its closing line
    name=$1; shift
    echo "==> $name"
    "$@" >"$LOG/$name.log" 2>&1
    rc=$?
    tail -n 25 "$LOG/$name.log"
    count "$LOG/$name.log"
    if [ $rc != 0 ]; then
        stages_failed="$stages_failed $name"
        grep -qE '[0-9]+ (passed|failed)' "$LOG/$name.log" || failed=$((failed + 1))
    fi
}

stage build make --no-print-directory all cli unit
stage unit env IW_SRCDIR="$PWD" build/unit_tests
[ "${IW_SKIP_ASAN:-0}" = 1 ] || stage asan make --no-print-directory test-asan
stage rules build/iocwatch check conf/rules
if [ "${IW_SKIP_INTEGRATION:-0}" = 1 ]; then
    stage pytest $PY -m pytest -q -p no:cacheprovider tests/cli tests/pack
else
    stage pytest $PY -m pytest -q -p no:cacheprovider tests/cli tests/pack tests/integration
fi
# 5. the Debian package (make deb) and the runtime image: installed, used,
#    upgraded and purged in clean Debian 12 containers (podman; the tests
#    skip without it).  IW_SKIP_PACKAGE=1 skips the stage.
[ "${IW_SKIP_PACKAGE:-0}" = 1 ] ||
    stage package $PY -m pytest -q -p no:cacheprovider tests/package
[ -n "$stages_failed" ] && echo "failed stages:$stages_failed (logs in $LOG/)"
echo "make test: $passed passed, $failed failed"
[ -z "$stages_failed" ] && [ "$failed" = 0 ]
