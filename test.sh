#!/usr/bin/env bash
# Runs recur's whole test suite: installs missing Debian packages, builds
# into build/, then runs every CMocka test under meson. Extra arguments go
# to `meson test` (e.g. ./test.sh ops_matmul).
set -euo pipefail
cd "$(dirname "$0")"
. scripts/setup.sh
recur_install "${RECUR_PACKAGES[@]}"
recur_build build
meson test -C build --print-errorlogs "$@"
