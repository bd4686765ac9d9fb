#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Install the Debian 12 packages mod_iocwatch needs, by purpose:
#
#   sh tools/install-deps.sh [build] [test] [bench] [tools] [all]   (default: build)
#
#   build  compile the module and the CLI, make deb    (`make`, `make deps`)
#   test   + the real components the tests run: apache2, rsyslog, pytest,
#          fail2ban, prometheus, ...; podman, runc, debootstrap for the
#          container tests (IW_WITH_PODMAN=0 leaves them out)   (`make test`)
#   bench  + wrk, valgrind and, as the reference, ModSecurity + OWASP CRS
#          (IW_WITH_MODSEC=0 leaves them out), Debian's fortunes as benign
#          form-body prose, and the held-out set's payload lists (sqlmap,
#          wfuzz, wapiti: read as data, not run) and locale words
#                                                  (`make bench`, `make detect`)
#   tools  + the attack tools of the held-out check, run only against a
#          sandboxed httpd on 127.0.0.1            (`make detect-tools`)
#
# Debian's ModSecurity package enables mod_security2 in the system Apache:
# when this script installs it, it disables it again (`a2dismod security2`);
# the benchmarks load it into their own httpd instances only.  Package
# scripts never start services here (a policy-rc.d for the duration).
# Used by the Makefile, .ci/run and docker/Dockerfile.
set -e
BUILD="build-essential pkg-config libapr1-dev libaprutil1-dev libpcre2-dev libyaml-dev
libvectorscan-dev zlib1g-dev apache2-dev dpkg-dev fakeroot"
TEST="apache2 rsyslog python3 python3-pytest python3-yaml curl procps jq
prometheus rsyslog-gnutls rsyslog-relp gnutls-bin python3-aiosmtpd fail2ban chromium"
# make fuzz: clang's libFuzzer (docs/FUZZING.md)
TEST="$TEST clang libclang-rt-14-dev"
# OWASP CRS's word lists (data files only, no Apache module): tests/pack
# checks the conf/crs rules that read them through placeholders
TEST="$TEST modsecurity-crs"
[ "${IW_WITH_PODMAN:-1}" = 1 ] && TEST="$TEST podman runc debootstrap"
BENCH="wrk valgrind fortunes"
# make detect's held-out set (tools/detect_heldout.py) reads their payload lists and locale names
BENCH="$BENCH sqlmap wfuzz wapiti locales"
TOOLS="sqlmap wapiti nmap wfuzz dirb whatweb"
MODSEC="libapache2-mod-security2 modsecurity-crs"

want=""
[ $# = 0 ] && set -- build
for set in "$@"; do
    case $set in
    build) want="$want $BUILD" ;;
    test) want="$want $BUILD $TEST" ;;
    bench) want="$want $BUILD $TEST $BENCH"
           [ "${IW_WITH_MODSEC:-1}" = 1 ] && want="$want $MODSEC" ;;
    tools) want="$want $BUILD $TEST $BENCH $MODSEC $TOOLS" ;;
    all) want="$want $BUILD $TEST $BENCH"
         [ "${IW_WITH_MODSEC:-1}" = 1 ] && want="$want $MODSEC" ;;
    *) echo "usage: $0 [build] [test] [bench] [tools] [all]" >&2; exit 2 ;;
    esac
done
missing=""
for p in $want; do
    case " $missing " in *" $p "*) continue ;; esac
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "iocwatch: missing packages:$missing (run as root on Debian, or install them)" >&2
    exit 1
fi
echo "iocwatch: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
made_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    made_policy=1
fi
rc=0
apt-get install -y -q --no-install-recommends $missing || rc=$?
[ $made_policy = 1 ] && rm -f /usr/sbin/policy-rc.d
case " $missing " in
*" libapache2-mod-security2 "*)
    # installed just now: its postinst enabled it in the system Apache
    if [ -e /etc/apache2/mods-enabled/security2.load ] && command -v a2dismod >/dev/null; then
        a2dismod -q -f security2 >/dev/null && echo "iocwatch: security2 disabled in the system Apache"
    fi ;;
esac
exit $rc
