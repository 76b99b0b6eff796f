# scripts/setup.sh — sourced by ./run.sh and ./test.sh: installs the Debian
# packages recur needs (only those missing) and configures and builds it.

# Debian 12 packages needed to build, test and run recur.
RECUR_PACKAGES=(gcc libc6-dev pkg-config meson ninja-build python3
                libcmocka-dev libdnnl-dev libgraphviz-dev zlib1g-dev gnuplot-nox)
# The diagrams' pinned font ("DejaVu Sans", draw/draw.h): the same figure gives the same bytes everywhere.
RECUR_PACKAGES+=(fonts-dejavu-core)
# ONNX import and export (onnx/): protobuf-c, and ONNX's schema (/usr/include/onnx/onnx.proto) compiled by protoc-c.
RECUR_PACKAGES+=(protobuf-c-compiler libprotobuf-c-dev libonnx-dev)
# Data-parallel training over MPI (train/mpi.c, recur/mpi.h): Open MPI's library, headers and mpirun.
RECUR_PACKAGES+=(libopenmpi-dev openmpi-bin)

recur_missing_packages() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    echo "${missing[@]:-}"
}

# recur_install PKG...: apt-get install the missing ones (as root, or through sudo).
recur_install() {
    local missing
    missing=$(recur_missing_packages "$@")
    [ -z "$missing" ] && return 0
    echo "recur: installing Debian packages: $missing"
    local sudo=""
    if [ "$(id -u)" != 0 ]; then
        if command -v sudo >/dev/null; then sudo="sudo"; else
            echo "recur: need root (or sudo) to install: $missing" >&2
            return 1
        fi
    fi
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
    # shellcheck disable=SC2086
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
}

# recur_build DIR [meson options...]: configure (once) and build.
recur_build() {
    local dir=$1
    shift
    local opts=("$@")
    [ "${CI:-}" = "true" ] && opts+=(-Dwerror=true)
    if [ ! -f "$dir/build.ninja" ]; then
        meson setup "$dir" "${opts[@]}"
    fi
    ninja -C "$dir"
}
