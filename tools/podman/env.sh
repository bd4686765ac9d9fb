# SPDX-License-Identifier: Apache-2.0
# Sourced by the podman scripts after they cd to the source tree: the
# project's containers.conf (see its comments).
export CONTAINERS_CONF="${CONTAINERS_CONF:-$PWD/tools/podman/containers.conf}"
