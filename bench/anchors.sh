#!/bin/sh
# anchors.sh — run the anchor benchmarks (oneDNN RNN training step, the
# machine's sgemm rate, PyTorch RNN training steps) with two OpenMP threads
# and print their lines, including the machine-readable ones:
#   anchor onednn <a|b|c> ms=<median> ws_mb=<MiB> gflops=<GFLOP/s>
#   anchor sgemm gflops=<GFLOP/s>
#   anchor torch <a|b|c|d> ms=<median> threads=<n>
#
# usage: bench/anchors.sh BUILD_DIR [--quick]
#   BUILD_DIR  the meson build directory (holds bench/onednn_rnn, bench/sgemm_rate)
#   --quick    fewer repetitions (a smoke run)
# The PyTorch part needs Debian's python3-torch under /usr/bin/python3
# (override with PYTHON=...); it is skipped with a note if torch is missing.
# Exit status: non-zero if a C anchor fails or the torch run fails.
set -eu

usage() { echo "usage: $0 BUILD_DIR [--quick]" >&2; exit 2; }

[ $# -ge 1 ] || usage
build=$1
shift
quick=
for arg in "$@"; do
    case $arg in
        --quick) quick=--quick ;;
        *) usage ;;
    esac
done

here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-/usr/bin/python3}

for exe in onednn_rnn sgemm_rate; do
    if [ ! -x "$build/bench/$exe" ]; then
        echo "anchors.sh: $build/bench/$exe not found; build first (ninja -C $build)" >&2
        exit 1
    fi
done

export OMP_NUM_THREADS=2

"$build/bench/sgemm_rate" $quick
"$build/bench/onednn_rnn" $quick
if "$python" -c 'import torch' 2>/dev/null; then
    "$python" "$here/torch_rnn.py" $quick
else
    echo "# anchors.sh: $python cannot import torch; torch anchors skipped"
fi
