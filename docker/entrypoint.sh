#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# iocwatch runtime image: rsyslogd (alerts to stdout and alerts.json), then
# Apache in the foreground.  APACHE_PORT changes the port httpd listens on
# (default 80), for `podman run --network=host`.
set -e
if [ -n "${APACHE_PORT:-}" ]; then
    sed -i "s/^Listen .*80\$/Listen $APACHE_PORT/" /etc/apache2/ports.conf
fi
sed -i '/Listen 443/d' /etc/apache2/ports.conf
install -d -o root -g adm -m 0750 /var/log/iocwatch
rm -f /run/rsyslogd.pid
rsyslogd -n &
# wait for the socket: the first alerts must not be lost
i=0; while [ ! -S /dev/log ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
. /etc/apache2/envvars
mkdir -p "$APACHE_RUN_DIR" "$APACHE_LOCK_DIR" "$APACHE_LOG_DIR"
exec apache2 -D FOREGROUND "$@"
