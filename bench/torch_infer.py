#!/usr/bin/python3
"""torch_infer.py — anchor benchmark: PyTorch for bench/recur_infer.c's configurations,
and the ONNX files of the same layers that bench/ort_infer.js runs in ONNX Runtime.

    /usr/bin/python3 bench/torch_infer.py [--quick] [--config e1|e2|f1|f2|g] [--onnx-dir DIR]

  e1, e2  generation at B=1: one-hot over 84 symbols -> nn.LSTM (1 x 128, 2 x 512) ->
          nn.Linear(H, 84), one step per symbol, argmax fed back, states carried;
          torch.no_grad(); ms per symbol (median over rounds of 200 symbols)
  f1, f2  nn.LSTM / nn.GRU T=50 B=64 I=512 H=512 forward over the sequence, torch.no_grad();
          ms per sequence
  g       run.sh's character model's training step: one-hot 84 -> nn.LSTM(84, 128) ->
          nn.Linear(128, 84) -> cross-entropy (mean), backward, clip_grad_norm_(5), Adam(lr 2e-3);
          ms per step

Each configuration is timed under torch.set_num_threads(n) for n = 1 and 2 and the best
kept: `anchor torch <cfg> ms=<median> threads=<n>`. With --onnx-dir, the e and f models are
exported there (e*.onnx take x [1, 1, 84], h0, c0 and give logits, hn, cn; f*.onnx take
x [50, 64, 512] and give y and the final state).
"""

import argparse
import os
import statistics
import sys
import time

try:
    import torch
except ImportError:
    sys.exit("torch_infer.py: cannot import torch; run it with /usr/bin/python3 (Debian's python3-torch)")

V = 84
THREADS = (1, 2)


class Generator(torch.nn.Module):
    """One step of the character model: x [1, 1, V] and the states in, logits and states out."""

    def __init__(self, layers, hidden):
        super().__init__()
        self.lstm = torch.nn.LSTM(V, hidden, num_layers=layers)
        self.out = torch.nn.Linear(hidden, V)

    def forward(self, x, h0, c0):
        y, (h, c) = self.lstm(x, (h0, c0))
        return self.out(y), h, c


def gen_config(name):
    return (1, 128) if name == "e1" else (2, 512)


def time_generate(name, rounds, symbols):
    layers, hidden = gen_config(name)
    torch.manual_seed(0)
    model = Generator(layers, hidden).eval()
    h = torch.zeros(layers, 1, hidden)
    c = torch.zeros(layers, 1, hidden)
    x = torch.zeros(1, 1, V)
    sym = 0
    times = []
    with torch.no_grad():
        for r in range(rounds + 1):
            t0 = time.perf_counter()
            for _ in range(symbols):
                x.zero_()
                x[0, 0, sym] = 1
                logits, h, c = model(x, h, c)
                sym = int(torch.argmax(logits[0, 0]))
            if r > 0:
                times.append((time.perf_counter() - t0) / symbols)
    return statistics.median(times)


def seq_model(name):
    torch.manual_seed(0)
    cls = torch.nn.LSTM if name == "f1" else torch.nn.GRU
    return cls(512, 512).eval(), torch.randn(50, 64, 512)


def time_sequence(name, rounds):
    model, x = seq_model(name)
    times = []
    with torch.no_grad():
        for r in range(rounds + 2):
            t0 = time.perf_counter()
            model(x)
            if r >= 2:
                times.append(time.perf_counter() - t0)
    return statistics.median(times)


def time_charmodel(rounds):
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(V, 128)
    out = torch.nn.Linear(128, V)
    params = list(lstm.parameters()) + list(out.parameters())
    opt = torch.optim.Adam(params, lr=2e-3)
    ids = torch.randint(0, V, (40, 64))
    nxt = torch.randint(0, V, (40, 64))
    times = []
    for r in range(rounds + 3):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        x = torch.nn.functional.one_hot(ids, V).float()
        y, _ = lstm(x)
        loss = torch.nn.functional.cross_entropy(out(y).reshape(-1, V), nxt.reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 5.0)
        opt.step()
        if r >= 3:
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def export(name, directory):
    path = os.path.join(directory, name + ".onnx")
    with torch.no_grad():
        if name.startswith("e"):
            layers, hidden = gen_config(name)
            torch.manual_seed(0)
            model = Generator(layers, hidden).eval()
            args = (torch.zeros(1, 1, V), torch.zeros(layers, 1, hidden), torch.zeros(layers, 1, hidden))
            torch.onnx.export(model, args, path, input_names=["x", "h0", "c0"], output_names=["logits", "hn", "cn"],
                              opset_version=14)
        else:
            model, x = seq_model(name)
            names = ["y", "hn", "cn"] if name == "f1" else ["y", "hn"]
            torch.onnx.export(model, (x,), path, input_names=["x"], output_names=names, opset_version=14)
    return path


def main():
    ap = argparse.ArgumentParser(description="PyTorch anchors for inference and the character model")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--config", choices=["e1", "e2", "f1", "f2", "g"])
    ap.add_argument("--onnx-dir", help="export the e and f models as ONNX files into this directory")
    args = ap.parse_args()
    print(f"# torch {torch.__version__}, threads tried {THREADS}{', quick' if args.quick else ''}", flush=True)
    names = [args.config] if args.config else ["e1", "e2", "f1", "f2", "g"]
    for name in names:
        best = None
        for n in THREADS:
            torch.set_num_threads(n)
            if name.startswith("e"):
                s = time_generate(name, 3 if args.quick else 9, 200)
            elif name.startswith("f"):
                s = time_sequence(name, 5 if args.quick else 21)
            else:
                s = time_charmodel(11 if args.quick else 41)
            print(f"torch ({name}) threads={n}: {s * 1e3:.4f} ms", flush=True)
            if best is None or s < best[0]:
                best = (s, n)
        print(f"anchor torch {name} ms={best[0] * 1e3:.4f} threads={best[1]}", flush=True)
        if args.onnx_dir and name != "g":
            torch.set_num_threads(1)
            print(f"# exported {export(name, args.onnx_dir)}", flush=True)


if __name__ == "__main__":
    main()
