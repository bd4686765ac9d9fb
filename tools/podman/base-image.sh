#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Make sure podman has the Debian 12 base image (localhost/debian:12 and
# the name debian:12): no registry is reachable, so it is built here with
# debootstrap --variant=minbase bookworm from the configured apt mirror and
# imported.  The root file system tarball is cached (IW_PODMAN_CACHE,
# default build/podman) so a second run, or one after `podman system
# reset`, imports it in seconds.
set -eu
cd "$(dirname "$0")/../.."
. tools/podman/env.sh
IMAGE=localhost/debian:12
if podman image exists "$IMAGE"; then exit 0; fi
CACHE=${IW_PODMAN_CACHE:-build/podman}
TAR=$CACHE/debian12-minbase.tar
mkdir -p "$CACHE"
if [ ! -s "$TAR" ]; then
    # the mirror the host's apt uses (deb822 or one-line sources)
    MIRROR=$(grep -hsE '^(URIs:|deb )' /etc/apt/sources.list.d/debian.sources \
                 /etc/apt/sources.list 2>/dev/null | grep -v security |
             sed -E 's/^URIs: *//; s/^deb (\[[^]]*\] )?//; s/ .*//' | head -n 1)
    MIRROR=${MIRROR:-http://deb.debian.org/debian}
    ROOT=$(mktemp -d "${TMPDIR:-/tmp}/iw-debootstrap.XXXXXX")
    trap 'rm -rf "$ROOT"' EXIT
    echo "podman: debootstrap --variant=minbase bookworm from $MIRROR"
    debootstrap --variant=minbase bookworm "$ROOT" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 || {
        tail -n 20 "$CACHE/debootstrap.log"; exit 1; }
    # the image's apt uses the same mirror and security archive as the host
    cp /etc/apt/sources.list.d/debian.sources "$ROOT/etc/apt/sources.list.d/" 2>/dev/null &&
        rm -f "$ROOT/etc/apt/sources.list" || true
    rm -rf "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/lib/apt/lists/*
    tar -C "$ROOT" -cf "$TAR.tmp" . && mv "$TAR.tmp" "$TAR"
fi
podman import --change 'CMD ["/bin/bash"]' "$TAR" "$IMAGE" >/dev/null
podman tag "$IMAGE" docker.io/library/debian:12
echo "podman: imported $IMAGE from $TAR"
