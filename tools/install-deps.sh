#!/bin/sh
# Install what mod_iocwatch needs to build, test, bench and demo (Debian 12).
# Used by `make deps`, .ci/run and docker/Dockerfile alike.
set -e
PKGS="build-essential pkg-config libapr1-dev libaprutil1-dev libpcre2-dev libyaml-dev
libvectorscan-dev apache2 apache2-dev rsyslog python3 python3-pytest python3-yaml curl wrk procps valgrind"
# integration tests against the real components (docs/INTEGRATIONS.md)
PKGS="$PKGS prometheus rsyslog-gnutls rsyslog-relp gnutls-bin python3-aiosmtpd
fail2ban chromium"
# make fuzz: clang's libFuzzer (docs/FUZZING.md)
PKGS="$PKGS clang libclang-rt-14-dev"
[ "${IW_WITH_MODSEC:-1}" = 1 ] && PKGS="$PKGS libapache2-mod-security2 modsecurity-crs"
missing=""
for p in $PKGS; do
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
# Package scripts must not start services here (apache2, rsyslog): block
# them for the duration of the install only, when no policy is in place.
made_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    made_policy=1
fi
rc=0
apt-get install -y -q --no-install-recommends $missing || rc=$?
[ $made_policy = 1 ] && rm -f /usr/sbin/policy-rc.d
exit $rc
