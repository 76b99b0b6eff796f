#!/usr/bin/python3
"""Generate reference values for the built-in cells' ONNX options: clip and LSTM peepholes.

Run by developers, not by the test suite (the test run needs no Python):

    /usr/bin/python3 tests/gen_cell_options.py            # writes tests/data/cell_options/*.ref
    /usr/bin/python3 tests/gen_cell_options.py --out DIR

PyTorch's modules have neither option, so the values come from the cells written out in
float64 with plain torch tensor ops (autograd gives the gradients), following ONNX's LSTM,
GRU and RNN operators:

    clip:       every gate preactivation, peephole terms included, is clipped to [-clip, clip]
                before its activation (the tanh of an LSTM's cell state is not clipped)
    peepholes:  i = sigmoid(a_i + P_i c_prev), f = sigmoid(a_f + P_f c_prev),
                o = sigmoid(a_o + P_o c_new), with P [3, H] in the order i, f, o

with a = x W_ih^T + b_ih + h W_hh^T + b_hh in PyTorch's layout and gate order (LSTM i, f, g, o;
GRU r, z, n with the reset applied to W_hn h + b_hn). Stacked and bidirectional layers as
PyTorch's. The file format is tests/gen_torch_ref.py's; the meta line adds clip= and
peepholes=, and the peephole weights are named weight_peephole_l<k>[_reverse].
"""

import argparse
import os
import sys
import zlib

import torch

import gen_torch_ref as ref

T, B, I, H = 5, 3, 4, 5
CASES = (  # cell, layers, bidirectional, clip, peepholes
    ("lstm", 1, False, 0.4, 0),
    ("lstm", 1, False, 0.0, 1),
    ("lstm", 2, True, 0.0, 1),
    ("lstm", 1, True, 0.5, 1),
    ("gru", 1, False, 0.4, 0),
    ("gru", 2, True, 0.6, 0),
    ("rnn_tanh", 1, False, 0.3, 0),
)


def case_name(cell, layers, bidirectional, clip, peepholes):
    return "%s_l%d_%s%s%s" % (cell, layers, "bi" if bidirectional else "uni", "_clip" if clip > 0 else "",
                             "_peephole" if peepholes else "")


class Clipper:
    """clip(a) to [-c, c], remembering how close an unclipped preactivation came to the bound."""

    def __init__(self, c):
        self.c, self.margin = c, float("inf")

    def __call__(self, a):
        if self.c <= 0:
            return a
        self.margin = min(self.margin, (a.detach().abs() - self.c).abs().min().item())
        return a.clamp(-self.c, self.c)


def step(cell, x, h, c, P, W_ih, W_hh, b_ih, b_hh, clip):
    a = x @ W_ih.T + b_ih + h @ W_hh.T + b_hh
    if cell == "rnn_tanh":
        return torch.tanh(clip(a)), None
    if cell == "lstm":
        ai, af, ag, ao = a[:, 0:H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:4 * H]
        if P is not None:
            ai, af = ai + P[0] * c, af + P[1] * c
        i, f, g = torch.sigmoid(clip(ai)), torch.sigmoid(clip(af)), torch.tanh(clip(ag))
        c2 = f * c + i * g
        if P is not None:
            ao = ao + P[2] * c2
        return torch.sigmoid(clip(ao)) * torch.tanh(c2), c2
    gi, gh = x @ W_ih.T + b_ih, h @ W_hh.T + b_hh
    r = torch.sigmoid(clip(gi[:, 0:H] + gh[:, 0:H]))
    z = torch.sigmoid(clip(gi[:, H:2 * H] + gh[:, H:2 * H]))
    n = torch.tanh(clip(gi[:, 2 * H:3 * H] + r * gh[:, 2 * H:3 * H]))
    return (1.0 - z) * n + z * h, None


def forward(cell, layers, bidirectional, params, x, h0, c0, clip):
    D = 2 if bidirectional else 1
    inp, hn, cn = x, [], []
    for layer in range(layers):
        outs = []
        for d in range(D):
            sfx = "_l%d%s" % (layer, "_reverse" if d == 1 else "")
            h = h0[layer * D + d]
            c = c0[layer * D + d] if cell == "lstm" else None
            ys = [None] * T
            for t in (range(T - 1, -1, -1) if d == 1 else range(T)):
                h, c = step(cell, inp[t], h, c, params.get("weight_peephole" + sfx), params["weight_ih" + sfx],
                            params["weight_hh" + sfx], params["bias_ih" + sfx], params["bias_hh" + sfx], clip)
                ys[t] = h
            outs.append(torch.stack(ys, 0))
            hn.append(h)
            cn.append(c)
        inp = torch.cat(outs, dim=2)
    return inp, torch.stack(hn, 0), torch.stack(cn, 0) if cell == "lstm" else None


def run_case(cell, layers, bidirectional, clip_bound, peepholes):
    name = case_name(cell, layers, bidirectional, clip_bound, peepholes)
    D = 2 if bidirectional else 1
    G = {"lstm": 4, "gru": 3, "rnn_tanh": 1}[cell]
    g = torch.Generator()
    g.manual_seed(zlib.crc32(name.encode("ascii")))

    def uniform(*shape):
        return (torch.rand(*shape, generator=g, dtype=torch.float64) - 0.5) * 1.6

    def normal(*shape):
        return torch.randn(*shape, generator=g, dtype=torch.float64)

    params = {}
    for layer in range(layers):
        for d in range(D):
            sfx = "_l%d%s" % (layer, "_reverse" if d == 1 else "")
            n_in = I if layer == 0 else D * H
            params["weight_ih" + sfx] = uniform(G * H, n_in)
            params["weight_hh" + sfx] = uniform(G * H, H)
            params["bias_ih" + sfx] = uniform(G * H)
            params["bias_hh" + sfx] = uniform(G * H)
            if peepholes:
                params["weight_peephole" + sfx] = uniform(3, H)
    x = normal(T, B, I)
    h0 = normal(layers * D, B, H) * 0.5
    c0 = normal(layers * D, B, H) * 0.5 if cell == "lstm" else None
    Wy = normal(T, B, D * H)
    Wh = normal(layers * D, B, H)
    Wc = normal(layers * D, B, H) if cell == "lstm" else None

    leaves = {n: ref.leaf(p) for n, p in params.items()}
    xl, h0l = ref.leaf(x), ref.leaf(h0)
    c0l = ref.leaf(c0) if c0 is not None else None
    clip = Clipper(clip_bound)
    y, h_n, c_n = forward(cell, layers, bidirectional, leaves, xl, h0l, c0l, clip)
    if clip.margin < 1e-4:  # float32 rounding could clip on the other side and change the gradient
        sys.exit("gen_cell_options.py: %s: a preactivation is %.3g from the clip bound; pick another seed"
                 % (name, clip.margin))
    L = ref.loss_of(y, h_n, c_n, Wy, Wh, Wc)
    L.backward()

    tensors = [(n, p) for n, p in params.items()]
    tensors += [("x", x), ("h0", h0)]
    if c0 is not None:
        tensors.append(("c0", c0))
    tensors += [("Wy", Wy), ("Wh", Wh)]
    if Wc is not None:
        tensors.append(("Wc", Wc))
    tensors += [("y", y.detach()), ("h_n", h_n.detach())]
    if c_n is not None:
        tensors.append(("c_n", c_n.detach()))
    tensors += [("loss", L.detach().reshape(1)), ("grad_x", xl.grad), ("grad_h0", h0l.grad)]
    if c0l is not None:
        tensors.append(("grad_c0", c0l.grad))
    tensors += [("grad_" + n, leaves[n].grad) for n in params]
    meta = "meta cell=%s layers=%d bidirectional=%d T=%d B=%d I=%d H=%d clip=%g peepholes=%d" % (
        cell, layers, 1 if bidirectional else 0, T, B, I, H, clip_bound, peepholes)
    return name, meta, tensors


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(here, "data", "cell_options"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)
    for case in CASES:
        name, meta, tensors = run_case(*case)
        path = os.path.join(args.out, name + ".ref")
        with open(path, "w", encoding="ascii", newline="\n") as f:
            f.write(ref.format_file(meta, tensors).replace("tests/gen_torch_ref.py", "tests/gen_cell_options.py"))
        print("wrote %s (%d tensors)" % (path, len(tensors)))


if __name__ == "__main__":
    main()
