#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Install, stage or remove mod_iocwatch (run from the Makefile, after a build).
#
#   tools/install.sh install     `make install`: into PREFIX (default /usr/local)
#   tools/install.sh uninstall   `make uninstall`
#   tools/install.sh stage DIR   `make deb`: the package's tree under DIR (PREFIX /usr)
#
# Layout (PREFIX /usr for the package):
#   /usr/lib/apache2/modules/mod_iocwatch.so      the module
#   PREFIX/bin/iocwatch                          the CLI
#   PREFIX/share/iocwatch/rules, feeds, sigmahq, crs   the shipped pack: ours, replaced on reinstall
#   PREFIX/share/doc/iocwatch, PREFIX/share/man  docs, iocwatch(1), iocwatch.conf(5)
#   /etc/iocwatch/rules                          the admin's rules (created empty, never touched)
#   /etc/apache2/mods-available/iocwatch.{load,conf}, /etc/rsyslog.d/30-iocwatch.conf,
#   /etc/logrotate.d/iocwatch                    configuration files
#
# Configuration files are the admin's once installed: `install` writes one only
# when it is missing (or still exactly as shipped); an edited one is kept and the
# new version goes next to it as FILE.iocwatch-new.  `uninstall` removes what it
# installed except edited configuration files and rules in /etc/iocwatch/rules.
# A manifest of installed files is kept in PREFIX/share/iocwatch/installed.
set -eu
cd "$(dirname "$0")/.."
mode=${1:-}
BUILD=${BUILD:-build}
APXS=${APXS:-apxs}
MODDIR=$($APXS -q LIBEXECDIR 2>/dev/null || echo /usr/lib/apache2/modules)
VERSION=$(cat VERSION)

if [ "$mode" = stage ]; then
    DESTDIR=${2:?usage: $0 stage DIR}
    PREFIX=/usr
else
    DESTDIR=${DESTDIR:-}
    PREFIX=${PREFIX:-/usr/local}
fi
SHARE=$PREFIX/share/iocwatch
DOC=$PREFIX/share/doc/iocwatch
MAN=$PREFIX/share/man
MANIFEST=$DESTDIR$SHARE/installed

# The configuration files with this install's paths in them.
render_conf() {     # render_conf SRC: print SRC for PREFIX
    sed -e "s|/usr/share/iocwatch|$SHARE|g" -e "s|/usr/share/doc/iocwatch|$DOC|g" "$1"
}
CONFFILES="conf/debian/iocwatch.load:/etc/apache2/mods-available/iocwatch.load
conf/debian/iocwatch.conf:/etc/apache2/mods-available/iocwatch.conf
conf/rsyslog/30-iocwatch.conf:/etc/rsyslog.d/30-iocwatch.conf
conf/logrotate/iocwatch:/etc/logrotate.d/iocwatch"

put() {             # put MODE SRC DST: install a file, note it in the manifest
    install -D -m "$1" "$2" "$DESTDIR$3"
    echo "$3" >>"$MANIFEST.tmp"
}

put_tree() {        # put_tree SRCDIR DSTDIR: every file, modes 0644/0755 dirs
    (cd "$1" && find . -type f | LC_ALL=C sort) | while read -r f; do
        put 0644 "$1/$f" "$2/${f#./}"
    done
}

put_man() {         # put_man SRC SECTION: gzip -9n (Debian policy)
    name=$(basename "$1")
    mkdir -p "$DESTDIR$MAN/man$2"
    gzip -9nc "$1" >"$DESTDIR$MAN/man$2/$name.gz"
    chmod 0644 "$DESTDIR$MAN/man$2/$name.gz"
    echo "$MAN/man$2/$name.gz" >>"$MANIFEST.tmp"
}

put_files() {       # everything but the configuration files
    mkdir -p "$DESTDIR$SHARE"
    : >"$MANIFEST.tmp"
    put 0644 "$BUILD/mod_iocwatch.so" "$MODDIR/mod_iocwatch.so"
    put 0755 "$BUILD/iocwatch" "$PREFIX/bin/iocwatch"
    # the shipped pack is ours: a reinstall replaces it whole (a rule
    # deleted upstream goes away; the admin's rules live in /etc)
    rm -rf "$DESTDIR$SHARE/rules" "$DESTDIR$SHARE/feeds" "$DESTDIR$SHARE/sigmahq" "$DESTDIR$SHARE/crs"
    put_tree conf/rules "$SHARE/rules"
    put_tree conf/feeds "$SHARE/feeds"
    put_tree conf/sigmahq "$SHARE/sigmahq"      # load with SigmaHQ's rules (docs/PACK.md)
    put_tree conf/crs "$SHARE/crs"              # rules reading CRS's lists (docs/PACK.md)
    for f in README.md docs/*.md; do
        case $f in docs/HACKING.md) continue ;; esac
        put 0644 "$f" "$DOC/$(basename "$f")"
    done
    for f in conf/httpd-example.conf conf/rsyslog/*.conf conf/logrotate/iocwatch; do
        put 0644 "$f" "$DOC/examples/$(echo "$f" | sed 's|^conf/||; s|/|-|g')"
    done
    for d in fail2ban cron prometheus; do      # other integrations (docs/INTEGRATIONS.md)
        [ -d conf/$d ] && put_tree conf/$d "$DOC/examples/$d"
    done
    put_man docs/man/iocwatch.1 1
    # the directives' page as docs/MODULE.md says now (committed copy without Python)
    mkdir -p "$BUILD/man"
    if [ -x /usr/bin/python3 ] && /usr/bin/python3 tools/gen-man.py --stdout >"$BUILD/man/iocwatch.conf.5"; then
        put_man "$BUILD/man/iocwatch.conf.5" 5
    else
        put_man docs/man/iocwatch.conf.5 5
    fi
    install -d -m 0755 "$DESTDIR/etc/iocwatch/rules"
    put 0644 conf/local-rules-README "/etc/iocwatch/rules/README"
}

case $mode in
stage)
    rm -rf "$DESTDIR"
    put_files
    echo "$VERSION" >"$DESTDIR$SHARE/version"
    echo "$CONFFILES" | while IFS=: read -r src dst; do
        mkdir -p "$DESTDIR$(dirname "$dst")"
        render_conf "$src" >"$DESTDIR$dst"
        chmod 0644 "$DESTDIR$dst"
    done
    rm -f "$MANIFEST.tmp"       # dpkg keeps the package's own list
    ;;
install)
    [ -s "$BUILD/mod_iocwatch.so" ] && [ -s "$BUILD/iocwatch" ] || {
        echo "install: build first (make)" >&2; exit 1; }
    # an older `make install` copied the pack into /etc/iocwatch/rules:
    # unchanged copies would load twice (duplicate ids), so they go
    (cd conf/rules && find . -name '*.yml' -type f) | while read -r f; do
        old=$DESTDIR/etc/iocwatch/rules/${f#./}
        if [ -f "$old" ] && cmp -s "conf/rules/$f" "$old"; then rm -f "$old"; fi
    done
    put_files
    echo "$CONFFILES" | while IFS=: read -r src dst; do
        new=$(mktemp)
        render_conf "$src" >"$new"
        shipped=$DESTDIR$SHARE/conffiles$dst     # as the last install wrote it
        if [ ! -e "$DESTDIR$dst" ] || cmp -s "$new" "$DESTDIR$dst" ||
           { [ -f "$shipped" ] && cmp -s "$DESTDIR$dst" "$shipped"; }; then
            install -D -m 0644 "$new" "$DESTDIR$dst"
            install -D -m 0644 "$new" "$DESTDIR$SHARE/conffiles$dst"   # as shipped
        else
            install -m 0644 "$new" "$DESTDIR$dst.iocwatch-new"
            echo "install: kept your $dst; the new version is $dst.iocwatch-new"
        fi
        rm -f "$new"
        echo "$dst" >>"$MANIFEST.tmp"
    done
    mv "$MANIFEST.tmp" "$MANIFEST"
    echo "installed mod_iocwatch $VERSION: a2enmod iocwatch && systemctl restart rsyslog && apachectl graceful"
    ;;
uninstall)
    [ -f "$MANIFEST" ] || { echo "uninstall: no $MANIFEST (not installed with make install)" >&2; exit 1; }
    if [ -z "$DESTDIR" ] && [ -e /etc/apache2/mods-enabled/iocwatch.load ] && command -v a2dismod >/dev/null; then
        a2dismod -q iocwatch && echo "uninstall: disabled iocwatch; run apachectl graceful"
    fi
    while read -r f; do
        case $f in
        /etc/iocwatch/rules/README) rm -f "$DESTDIR$f" ;;
        /etc/*)
            shipped=$DESTDIR$SHARE/conffiles$f
            if [ -f "$DESTDIR$f" ] && [ -f "$shipped" ] && ! cmp -s "$DESTDIR$f" "$shipped"; then
                echo "uninstall: kept $f (edited)"
            else
                rm -f "$DESTDIR$f"
            fi
            rm -f "$DESTDIR$f.iocwatch-new" ;;
        *) rm -f "$DESTDIR$f" ;;
        esac
    done <"$MANIFEST"
    rm -rf "$DESTDIR$SHARE" "$DESTDIR$DOC"
    rmdir "$DESTDIR/etc/iocwatch/rules" "$DESTDIR/etc/iocwatch" 2>/dev/null ||
        echo "uninstall: kept /etc/iocwatch (your rules)"
    echo "uninstalled mod_iocwatch"
    ;;
*)
    echo "usage: $0 install|uninstall|stage DIR" >&2; exit 2 ;;
esac
