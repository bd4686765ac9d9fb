#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Runs inside a clean Debian 12 container (tests/package/test_deb.py): the
# package used the way an admin uses it.  /pkg holds iocwatch_1.deb and
# iocwatch_2.deb (the upgrade, with a changed iocwatch.conf); PORT is the
# loopback port httpd listens on (the container shares the host network).
# Prints "CHECK name ok" or "CHECK name FAIL detail" per step; the test
# asserts every one.
set -u
export DEBIAN_FRONTEND=noninteractive
PORT=${PORT:?}
ALERTS=/var/log/iocwatch/alerts.json
PROBING=3845d349-df54-417c-a3ff-025612db1b32
LOCAL_ID=0b5e1c5e-1111-4222-8333-444455556666

check() {   # check NAME CMD...: run CMD, report
    local name=$1; shift
    local out
    if out=$("$@" 2>&1); then echo "CHECK $name ok"
    else echo "CHECK $name FAIL $(echo "$out" | tail -n 5 | tr '\n' ' ')"; fi
}

wait_for() {   # wait_for SECONDS CMD...: until CMD succeeds
    local t=$(( $1 * 10 )); shift
    while [ $t -gt 0 ]; do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; t=$((t - 1)); done
    "$@"
}

# ---- install with apt: dependencies from the mirror ---------------------------------
apt-get update -q >/tmp/apt.log 2>&1
check install apt-get install -y -q --no-install-recommends /pkg/iocwatch_1.deb apache2 rsyslog curl jq logrotate
dpkg -L iocwatch | sort >/tmp/files.list
check module_enabled_by_postinst test -L /etc/apache2/mods-enabled/iocwatch.load
check conffiles_marked grep -q /etc/apache2/mods-available/iocwatch.conf /var/lib/dpkg/info/iocwatch.conffiles
check man_pages bash -c 'test -s /usr/share/man/man1/iocwatch.1.gz && test -s /usr/share/man/man5/iocwatch.conf.5.gz'
check docs_linked_from_conf bash -c 'for f in $(grep -o "/usr/share/doc/iocwatch/[A-Z]*\.md" /etc/apache2/mods-available/iocwatch.conf); do test -s $f || exit 1; done'
check cli_version bash -c 'iocwatch --version | grep -q "^iocwatch "'
check cli_check_default_rules iocwatch check

# ---- start the services as init would ------------------------------------------------
sed -i "s/^Listen 80\$/Listen 127.0.0.1:$PORT/; /Listen 443/d" /etc/apache2/ports.conf
rsyslogd
check apache_start apachectl start
check apache_up wait_for 180 curl -fsS -o /dev/null "http://127.0.0.1:$PORT/"

# ---- an attack and a 404 burst -> alerts in alerts.json --------------------------
curl -s -o /dev/null "http://127.0.0.1:$PORT/item?id=0%20UNION%20SELECT%20password%20FROM%20users--"
for i in $(seq 1 30); do curl -s -o /dev/null "http://127.0.0.1:$PORT/iw-probe/page$i.php"; done
check attack_alert wait_for 30 grep -q 'UNION SELECT password' $ALERTS
check correlation_alert wait_for 30 grep -q "\"id\":\"$PROBING\"" $ALERTS
check alert_message bash -c "jq -r .message $ALERTS | grep -q '^\[high\] .*: 127.0.0.1 GET /item?id=0%20UNION.* -> 404; matched '"
check alerts_group_adm_0640 bash -c "[ \"\$(stat -c '%U:%G %a' $ALERTS)\" = 'root:adm 640' ]"
useradd -M -N -G adm alice
check readable_by_adm runuser -u alice -- jq -r .message $ALERTS
useradd -M -N bob
check not_readable_by_others bash -c "! runuser -u bob -- cat $ALERTS"
check not_in_syslog bash -c "! grep -q 'UNION SELECT password' /var/log/syslog /var/log/messages 2>/dev/null"

# ---- a local rule, reload --------------------------------------------------------------
cat >/etc/iocwatch/rules/local-marker.yml <<EOF
title: Local rule - marker in the query
id: $LOCAL_ID
status: test
logsource:
    category: webserver
detection:
    selection:
        cs-uri-query|contains: 'iw-local-marker'
    condition: selection
level: high
EOF
check local_rule_checks iocwatch check
check reload apachectl graceful
# the old generation serves until the new one has compiled the rules (no
# fixed time on a loaded machine): ask until the new rule has alerted
check local_rule_alert wait_for 120 sh -c "curl -s -o /dev/null 'http://127.0.0.1:$PORT/x?q=iw-local-marker'; grep -q '\"id\":\"$LOCAL_ID\"' $ALERTS"

# ---- rotation: the logrotate snippet (its postrotate HUPs rsyslog through
# systemd, absent here: send the HUP as systemctl would) -----------------------------
check logrotate_config logrotate -d /etc/logrotate.d/iocwatch
check logrotate_rotates logrotate -f /etc/logrotate.d/iocwatch
check rotated_file test -s $ALERTS.1
check new_file_root_adm_0640 bash -c "[ \"\$(stat -c '%U:%G %a' $ALERTS)\" = 'root:adm 640' ]"
pkill -HUP rsyslogd
# rsyslogd reopens its files when it has handled the HUP, which it says in
# syslog: an alert written before that would go to the rotated file
wait_for 10 grep -q "rsyslogd was HUPed" /var/log/syslog || true
# a rule that has not alerted yet (IocWatchSuppress 60 holds back repeats)
curl -s -o /dev/null "http://127.0.0.1:$PORT/x?file=../../../../etc/passwd&after=rotation"
check alert_after_rotation wait_for 30 grep -q 'after=rotation' $ALERTS

# ---- upgrade over an edited conffile ---------------------------------------------
echo "# admin edit: keep me" >>/etc/apache2/mods-available/iocwatch.conf
check upgrade apt-get install -y -q -o Dpkg::Options::=--force-confdef \
    -o Dpkg::Options::=--force-confold /pkg/iocwatch_2.deb
check upgraded_version bash -c "dpkg-query -W -f='\${Version}' iocwatch | grep -q '+upgrade'"
check edit_kept grep -q "admin edit: keep me" /etc/apache2/mods-available/iocwatch.conf
check new_version_beside test -s /etc/apache2/mods-available/iocwatch.conf.dpkg-dist
check local_rule_kept test -s /etc/iocwatch/rules/local-marker.yml
check still_enabled test -L /etc/apache2/mods-enabled/iocwatch.load
check configtest_after_upgrade apachectl configtest

# ---- purge: nothing of the package left --------------------------------------------
apachectl -k stop >/dev/null 2>&1; sleep 1
check purge apt-get purge -y -q iocwatch
check disabled_on_remove bash -c '! test -e /etc/apache2/mods-enabled/iocwatch.load'
check no_packaged_file_left bash -c 'while read -r f; do [ "$f" = /. ] && continue; if [ -f "$f" ] || [ -L "$f" ]; then echo "left: $f"; exit 1; fi; done </tmp/files.list'
# (root's ~/.cache/iocwatch is the CLI's per-user cache from `iocwatch check`
# above: a user's file, which purge leaves like any file in a home)
check nothing_named_iocwatch bash -c 'left=$(find / -xdev \( -path /proc -o -path /sys -o -path /pkg -o -path /tmp -o -path /root/.cache/iocwatch \) -prune -o -name "*iocwatch*" -print); [ -z "$left" ] || { echo "$left"; exit 1; }'
pkill rsyslogd || true
echo "DONE"
