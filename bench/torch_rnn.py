#!/usr/bin/python3
"""torch_rnn.py — anchor benchmark: PyTorch nn.LSTM / nn.GRU training steps.

Run with Debian's interpreter (the one that has python3-torch):

    /usr/bin/python3 bench/torch_rnn.py [--quick] [--config a|b|c|d] [--reps N]

A training step is: forward through the whole sequence, the scalar loss
    output.sum() + h_n.sum() [+ c_n.sum() for LSTM],
and loss.backward(), which computes the gradients of every weight and bias and
of the input sequence (the input requires grad so that PyTorch does the same
work as oneDNN's backward, which always computes diff_src_layer). Gradients
are dropped (set to None) before each step, as optimizer.zero_grad() does.

Configurations (time-major [T, B, I], float32, H hidden units):
    a  LSTM            T=40 B=32 I=89  H=128
    b  LSTM            T=50 B=64 I=512 H=512
    c  GRU             T=50 B=64 I=512 H=512   (PyTorch's GRU = oneDNN lbr_gru)
    d  LSTM, 2 layers  T=50 B=50 I=65  H=128

Each configuration is timed under torch.set_num_threads(n) for n = 1 and 2;
the best (lowest median) setting is reported as
    anchor torch <cfg> ms=<median> threads=<n>
FLOP rates use the count of bench/onednn_rnn.c: per layer
3 * 2*T*B*(I_layer+H)*G*H, G = 4 (LSTM) or 3 (GRU).
"""

import argparse
import statistics
import sys
import time

try:
    import torch
except ImportError:
    sys.exit("torch_rnn.py: cannot import torch; run it with /usr/bin/python3 "
             "(Debian's python3-torch)")

CONFIGS = {
    "a": dict(cell="LSTM", T=40, B=32, I=89, H=128, layers=1),
    "b": dict(cell="LSTM", T=50, B=64, I=512, H=512, layers=1),
    "c": dict(cell="GRU", T=50, B=64, I=512, H=512, layers=1),
    "d": dict(cell="LSTM", T=50, B=50, I=65, H=128, layers=2),
}
THREADS = (1, 2)


def step_flops(cfg):
    """Matrix-product FLOPs of a training step (forward + backward data +
    backward weights), summed over the layers."""
    gates = 4 if cfg["cell"] == "LSTM" else 3
    total = 0.0
    for layer in range(cfg["layers"]):
        inputs = cfg["I"] if layer == 0 else cfg["H"]
        total += 3 * 2.0 * cfg["T"] * cfg["B"] * (inputs + cfg["H"]) * gates * cfg["H"]
    return total


def build(cfg):
    torch.manual_seed(0)
    cls = torch.nn.LSTM if cfg["cell"] == "LSTM" else torch.nn.GRU
    model = cls(cfg["I"], cfg["H"], num_layers=cfg["layers"])  # time-major
    x = torch.randn(cfg["T"], cfg["B"], cfg["I"], requires_grad=True)
    return model, x


def train_step(model, x):
    model.zero_grad(set_to_none=True)
    x.grad = None
    out, state = model(x)
    if isinstance(state, tuple):      # LSTM: (h_n, c_n)
        loss = out.sum() + state[0].sum() + state[1].sum()
    else:                             # GRU: h_n
        loss = out.sum() + state.sum()
    loss.backward()


def time_config(cfg, threads, quick, fixed_reps):
    """Median seconds per step under `threads` intra-op threads.

    Repetitions: 2 (quick: 1) warm-up steps, then --reps N exactly; otherwise
    up to 15 (full: 50) steps, stopping once 2 s (full: 15 s) of timed steps
    have run, never fewer than 1 (full: 5). Quick mode is a smoke test that
    must stay short even when a step takes seconds (see blas_warning)."""
    torch.set_num_threads(threads)
    model, x = build(cfg)
    warmup = 1 if quick else 2
    max_reps = fixed_reps or (15 if quick else 50)
    min_reps = fixed_reps or (1 if quick else 5)
    budget = 2.0 if quick else 15.0
    for _ in range(warmup):
        train_step(model, x)
    times = []
    spent = 0.0
    while len(times) < max_reps:
        t0 = time.perf_counter()      # CLOCK_MONOTONIC on Linux
        train_step(model, x)
        dt = time.perf_counter() - t0
        times.append(dt)
        spent += dt
        if len(times) >= min_reps and spent >= budget:
            break
    return statistics.median(times), len(times)


def blas_libraries():
    """The BLAS shared objects mapped into this process (torch links one)."""
    try:
        with open("/proc/self/maps") as f:
            return sorted({line.split()[-1] for line in f
                           if "blas" in line.rsplit("/", 1)[-1]})
    except OSError:
        return []


def blas_warning(libs):
    """PyTorch's CPU matmuls go through the system BLAS when it was built with
    BLAS_INFO=generic (Debian's python3-torch is). If that resolves to the
    netlib reference libblas.so.3, every matmul runs an unblocked,
    single-threaded triple loop and the torch anchors say nothing about
    PyTorch; installing an optimized libblas.so.3 provider fixes that.
    Debian's libopenblas0-openmp registers itself as the libblas.so.3
    alternative and, being OpenMP-threaded, obeys torch.set_num_threads
    (the -pthread flavour keeps its own thread pool and oversubscribes).
    Returns a warning line or None."""
    refs = [p for p in libs if "/blas/libblas.so" in p]
    if refs and not any("openblas" in p or "blis" in p or "mkl" in p for p in libs):
        return (f"# warning: PyTorch is using the reference BLAS {refs[0]}; its matmuls "
                "are unoptimized and these timings are not a fair PyTorch anchor "
                "(install libopenblas0-openmp)")
    return None


def main():
    ap = argparse.ArgumentParser(description="PyTorch RNN training-step anchors")
    ap.add_argument("--quick", action="store_true", help="fewer repetitions")
    ap.add_argument("--config", choices=sorted(CONFIGS), help="only this configuration")
    ap.add_argument("--reps", type=int, default=0, help="exactly N timed steps")
    args = ap.parse_args()
    if args.reps < 0:
        ap.error("--reps must be positive")

    torch.set_grad_enabled(True)
    print(f"# torch {torch.__version__}, threads tried {THREADS}"
          f"{', quick' if args.quick else ''}", flush=True)
    libs = blas_libraries()
    print(f"# blas: {' '.join(libs) if libs else 'none found'}", flush=True)
    warning = blas_warning(libs)
    if warning:
        print(warning, flush=True)
    names = [args.config] if args.config else sorted(CONFIGS)
    for name in names:
        cfg = CONFIGS[name]
        desc = (f"{cfg['cell']}{'x%d' % cfg['layers'] if cfg['layers'] > 1 else ''} "
                f"T={cfg['T']} B={cfg['B']} I={cfg['I']} H={cfg['H']}")
        best = None
        for n in THREADS:
            med, reps = time_config(cfg, n, args.quick, args.reps)
            gflops = step_flops(cfg) / med / 1e9
            print(f"torch ({name}) {desc} threads={n}: {med * 1e3:.3f} ms/step "
                  f"median of {reps}, {gflops:.1f} GFLOP/s", flush=True)
            if best is None or med < best[0]:
                best = (med, n)
        print(f"anchor torch {name} ms={best[0] * 1e3:.3f} threads={best[1]}", flush=True)


if __name__ == "__main__":
    main()
