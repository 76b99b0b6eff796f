#!/usr/bin/env bash
# Runs recur's main job: installs missing Debian packages, builds into
# build/, then runs the demo.
set -euo pipefail
cd "$(dirname "$0")"
. scripts/setup.sh
recur_install "${RECUR_PACKAGES[@]}"
recur_build build
exec ./build/examples/demo "$@"
