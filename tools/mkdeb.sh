#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# `make deb`: build/iocwatch_VERSION_ARCH.deb with dpkg-deb from a staged tree
# (tools/install.sh stage), no debian/ directory needed.
#
#   Depends     the shared libraries of the module and the CLI as
#               dpkg-shlibdeps computes them, the Apache module ABI
#               (apache2-api-NNNNNNNN, the value dh_apache2 uses, from
#               apache2-dev) and apache2-bin; Recommends apache2, rsyslog
#               (the alert route), logrotate, jq (docs/ALERTS.md)
#   conffiles   every file under /etc (mods-available/iocwatch.{load,conf},
#               the rsyslog route, the logrotate snippet, /etc/iocwatch/rules/README)
#   scripts     Debian's apache2-maintscript-helper, as dh_apache2 writes
#               them: enable the module on install (never again after the
#               admin disabled it), disable it on remove; rsyslog restarted
#               (when running) so the route applies; purge removes the
#               alerts, /etc/iocwatch and the compiled-rule cache.
#
#   flags       as Debian builds packages: CFLAGS, CPPFLAGS and LDFLAGS from
#               dpkg-buildflags (DEB_BUILD_MAINT_OPTIONS, hardening=+all
#               unless set, as this package's debian/rules would say;
#               DEB_BUILD_OPTIONS and DEB_CFLAGS_APPEND etc. apply), in a
#               build directory of its own ($BUILD/pkg, built anew when the
#               flags change; the flags in $BUILD/pkg/buildflags).  The
#               Makefile's -Wall -Wextra -Werror stay, and so does
#               -Werror=format-security.  Without dpkg-buildflags: the
#               development build ($BUILD, the Makefile's HARDEN_* flags).
#
# IW_DEB_VERSION overrides the version (tests build an "upgrade" this way);
# IW_DEB_OUT the output file.
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
MAKE=${MAKE:-make}
VERSION=${IW_DEB_VERSION:-$(cat VERSION)}
ARCH=$(dpkg --print-architecture)
OUT=${IW_DEB_OUT:-$BUILD/iocwatch_${VERSION}_$ARCH.deb}
ROOT=$BUILD/deb/root
WORK=$BUILD/deb/work

# ---- the build ---------------------------------------------------------------
if command -v dpkg-buildflags >/dev/null 2>&1; then
    export DEB_BUILD_MAINT_OPTIONS="${DEB_BUILD_MAINT_OPTIONS-hardening=+all}"
    PKG_BUILD=$BUILD/pkg
    cflags=$(dpkg-buildflags --get CFLAGS)
    case " $cflags " in                 # kept even with hardening=-format
        *" -Werror=format-security "*) ;;
        *) cflags="$cflags -Wformat -Werror=format-security" ;;
    esac
    cppflags=$(dpkg-buildflags --get CPPFLAGS)
    ldflags=$(dpkg-buildflags --get LDFLAGS)
    flags=$(printf 'CFLAGS=%s\nCPPFLAGS=%s\nLDFLAGS=%s\n' "$cflags" "$cppflags" "$ldflags")
    # objects of other flags are not rebuilt by make: start anew
    [ "$(cat "$PKG_BUILD/buildflags" 2>/dev/null)" = "$flags" ] || rm -rf "$PKG_BUILD"
    mkdir -p "$PKG_BUILD"
    # the module's glue (compiled by apxs) with the same compiler flags;
    # apxs links it with RELRO and BIND_NOW itself
    modflags=
    for f in $cppflags $cflags; do modflags="$modflags -Wc,$f"; done
    $MAKE --no-print-directory BUILD="$PKG_BUILD" CFLAGS="$cflags" CPPFLAGS="$cppflags" \
        LDFLAGS="$ldflags" HARDEN_CFLAGS= HARDEN_LDFLAGS= MODULE_CFLAGS="$modflags" \
        lib cli module >&2
    printf '%s\n' "$flags" >"$PKG_BUILD/buildflags"
else
    PKG_BUILD=$BUILD
    $MAKE --no-print-directory BUILD="$BUILD" all >&2
fi

BUILD=$PKG_BUILD sh tools/install.sh stage "$ROOT" >/dev/null
install -d "$ROOT/DEBIAN"
# no debug symbols in the package (Debian strips them into -dbgsym packages)
strip --strip-unneeded --remove-section=.comment --remove-section=.note \
    "$ROOT/usr/lib/apache2/modules/mod_iocwatch.so" "$ROOT/usr/bin/iocwatch"

# ---- Depends ---------------------------------------------------------------
# dpkg-shlibdeps wants a debian/control to exist; give it one in a scratch dir
rm -rf "$WORK" && mkdir -p "$WORK/debian"
printf 'Source: iocwatch\n\nPackage: iocwatch\nArchitecture: any\n' >"$WORK/debian/control"
ABS_ROOT=$(cd "$ROOT" && pwd)
shlibs=$(cd "$WORK" && dpkg-shlibdeps -O \
           "$ABS_ROOT/usr/lib/apache2/modules/mod_iocwatch.so" "$ABS_ROOT/usr/bin/iocwatch" 2>/dev/null |
         sed -n 's/^shlibs:Depends=//p')
[ -n "$shlibs" ] || { echo "mkdeb: dpkg-shlibdeps found no dependencies" >&2; exit 1; }
# the module ABI, as dh_apache2 (apache2-dev) computes it
api=$(sed -n 's/^our \$API = "\([0-9]*\)";/\1/p' /usr/bin/dh_apache2 2>/dev/null)
[ -n "$api" ] || api=$(sed -n 's/^#define MODULE_MAGIC_NUMBER_MAJOR \([0-9]*\).*/\1/p' \
                        /usr/include/apache2/ap_mmn.h)
[ -n "$api" ] || { echo "mkdeb: no Apache module API version (apache2-dev)" >&2; exit 1; }
size=$(du -sk --exclude=DEBIAN "$ROOT" | cut -f1)

cat >"$ROOT/DEBIAN/control" <<EOF
Package: iocwatch
Version: $VERSION
Architecture: $ARCH
Maintainer: mod_iocwatch maintainers <root@localhost>
Installed-Size: $size
Depends: $shlibs, apache2-api-$api, apache2-bin (>= 2.4.16)
Recommends: apache2, rsyslog, logrotate, jq
Section: httpd
Priority: optional
Homepage: https://sigmahq.io
Description: Sigma IoC rules on every Apache request and error-log entry
 mod_iocwatch checks every finished request and every error-log entry of
 Apache httpd, in the server, against Sigma detection and correlation rules
 (a shipped pack of ~90 rules for web attacks, probing and brute force) and
 sends one ECS JSON alert per match to syslog; rsyslog writes them to
 /var/log/iocwatch/alerts.json.  The iocwatch command checks rules and
 replays existing access and error logs (also .gz) against them.
EOF

(cd "$ROOT" && find etc -type f | LC_ALL=C sort | sed 's|^|/|') >"$ROOT/DEBIAN/conffiles"

# ---- maintainer scripts -------------------------------------------------------
cat >"$ROOT/DEBIAN/postinst" <<'EOF'
#!/bin/sh
set -e
if [ "$1" = configure ]; then
    # the alert file's directory: group adm reads it (the rsyslog route
    # creates files 0640 root:adm in it)
    install -d -o root -g adm -m 0750 /var/log/iocwatch
    # rsyslog reads /etc/rsyslog.d only at start: restart it when running
    if [ -d /run/systemd/system ]; then
        deb-systemd-invoke try-restart rsyslog.service >/dev/null 2>&1 || true
    elif pidof rsyslogd >/dev/null 2>&1; then
        invoke-rc.d rsyslog restart >/dev/null 2>&1 || true
    fi
fi
# as dh_apache2 writes it: enable on first install, respect a2dismod later
if [ -e /usr/share/apache2/apache2-maintscript-helper ] ; then
    . /usr/share/apache2/apache2-maintscript-helper
    for conf in iocwatch ; do
        apache2_invoke enmod $conf || exit $?
    done
fi
exit 0
EOF

cat >"$ROOT/DEBIAN/prerm" <<'EOF'
#!/bin/sh
set -e
if [ "$1" = "remove" ] || [ "$1" = "deconfigure" ] ; then
    if [ -e /usr/share/apache2/apache2-maintscript-helper ] ; then
        . /usr/share/apache2/apache2-maintscript-helper
        for conf in iocwatch ; do
            apache2_invoke dismod $conf || exit $?
        done
    fi
fi
exit 0
EOF

cat >"$ROOT/DEBIAN/postrm" <<'EOF'
#!/bin/sh
set -e
if [ "$1" = "purge" ] ; then
    if [ -e /usr/share/apache2/apache2-maintscript-helper ] ; then
        . /usr/share/apache2/apache2-maintscript-helper
        for conf in iocwatch ; do
            apache2_invoke dismod $conf || exit $?
        done
    fi
    # the alerts, the admin's rules, the compiled-rule cache
    rm -rf /var/log/iocwatch /etc/iocwatch /var/run/apache2/iocwatch-cache
fi
if [ "$1" = "remove" ] || [ "$1" = "purge" ]; then
    # the route is gone (or kept as a conffile but without module): rsyslog
    # forgets it on restart
    if [ -d /run/systemd/system ]; then
        deb-systemd-invoke try-restart rsyslog.service >/dev/null 2>&1 || true
    elif pidof rsyslogd >/dev/null 2>&1 && [ "$1" = purge ]; then
        invoke-rc.d rsyslog restart >/dev/null 2>&1 || true
    fi
fi
exit 0
EOF
chmod 0755 "$ROOT/DEBIAN/postinst" "$ROOT/DEBIAN/prerm" "$ROOT/DEBIAN/postrm"

# ---- copyright, changelog --------------------------------------------------------
DOC=$ROOT/usr/share/doc/iocwatch
cat >"$DOC/copyright" <<'EOF'
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: mod_iocwatch

Files: *
Copyright: the mod_iocwatch authors
License: Apache-2.0
 The shipped rules (/usr/share/iocwatch/rules) and word lists are the
 project's own (author: mod_iocwatch), under the same licence.
 .
 On Debian systems, the full text of the Apache License, Version 2.0 is in
 /usr/share/common-licenses/Apache-2.0.
EOF
printf 'iocwatch (%s) unstable; urgency=medium\n\n  * Built from the source tree with make deb.\n\n -- mod_iocwatch maintainers <root@localhost>  %s\n' \
    "$VERSION" "$(date -R -d @"${SOURCE_DATE_EPOCH:-$(date +%s)}")" | gzip -9n >"$DOC/changelog.gz"
chmod 0644 "$DOC/copyright" "$DOC/changelog.gz"

# one package in build/: docker/Dockerfile copies build/iocwatch_*.deb
[ -n "${IW_DEB_OUT:-}" ] || rm -f "$BUILD"/iocwatch_*.deb
# root-owned files in the package whoever builds it
dpkg-deb --root-owner-group -Zxz --build "$ROOT" "$OUT" >/dev/null
echo "$OUT"
