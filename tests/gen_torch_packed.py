#!/usr/bin/python3
"""Generate PyTorch reference values for recur's per-sequence lengths (packed sequences).

Run by developers, not by the test suite (the test run needs no Python):

    /usr/bin/python3 tests/gen_torch_packed.py            # writes tests/data/torch_packed/*.ref
    /usr/bin/python3 tests/gen_torch_packed.py --out DIR  # writes elsewhere

It needs Debian's python3-torch. Every number is float64 and drawn from a torch.Generator
seeded from the case's name, so the output is deterministic.

Cases: cell in {rnn_tanh, lstm, gru} x layers {1, 2, 3} x {uni, bi}, T=6, B=4, I=4, H=5,
time-major. The lengths are unsorted and hold 1 and T ([3, 6, 1, 4] shuffled per case); the
padding past each length holds random values like the rest of x, so a model that reads it
gives other numbers. PyTorch runs them as pack_padded_sequence(x, lengths,
enforce_sorted=False) -> nn.RNN/LSTM/GRU -> pad_packed_sequence(total_length=T): y is zero
past each sequence's end, h_n (and c_n) are each sequence's state after its own last step,
and a reverse direction starts at each sequence's own last step.

The file format is that of tests/gen_torch_ref.py (read by tests/torch_ref.c) with one more
tensor, "lengths" [B], and the loss and gradients

    L = sum(y * Wy) + sum(h_n * Wh) [+ sum(c_n * Wc)],  grad_x (zero at padding), grad_h0,
    grad_c0, grad_<param>.

As an independent check of those semantics, the script also runs the hand-written float64
cells of gen_torch_ref.py with explicit masking (a state held where t >= length, outputs
zeroed there) and asserts that they reproduce the packed module to 1e-12 (gradients 1e-10).
"""

import argparse
import os
import sys
import zlib

import torch

import gen_torch_ref as ref

T, B, I, H = 6, 4, 4, 5
CELLS = ("rnn_tanh", "lstm", "gru")
LAYERS = (1, 2, 3)
DIRECTIONS = (False, True)
LENGTHS = (3, 6, 1, 4)


def case_name(cell, layers, bidirectional):
    return "%s_l%d_%s" % (cell, layers, "bi" if bidirectional else "uni")


def make_module(cell, layers, bidirectional):
    kw = dict(input_size=I, hidden_size=H, num_layers=layers, bias=True, batch_first=False,
              bidirectional=bidirectional)
    if cell == "rnn_tanh":
        return torch.nn.RNN(nonlinearity="tanh", **kw).double()
    if cell == "lstm":
        return torch.nn.LSTM(**kw).double()
    return torch.nn.GRU(**kw).double()


def masked_forward(cell, layers, bidirectional, params, x, h0, c0, lengths):
    """The stacked (bi)directional network of the hand-written cells with the packed semantics
    written out: at time t sequence b is real when t < lengths[b]; a real step updates the
    state and writes the output, a padding step keeps the state and writes zero. A reverse
    direction walks t = T-1 .. 0, so it keeps its initial state until the sequence's last step.
    """
    D = 2 if bidirectional else 1
    real = (torch.arange(T).reshape(T, 1) < lengths.reshape(1, B)).to(torch.float64).reshape(T, B, 1)
    inp = x
    hn, cn = [], []
    for layer in range(layers):
        outs = []
        for d in range(D):
            sfx = "_l%d%s" % (layer, "_reverse" if d == 1 else "")
            W_ih, W_hh = params["weight_ih" + sfx], params["weight_hh" + sfx]
            b_ih, b_hh = params["bias_ih" + sfx], params["bias_hh" + sfx]
            h = h0[layer * D + d]
            c = c0[layer * D + d] if cell == "lstm" else None
            ys = [None] * T
            for t in (range(T - 1, -1, -1) if d == 1 else range(T)):
                m = real[t]
                if cell == "rnn_tanh":
                    h2, _ = ref.rnn_cell(inp[t], h, W_ih, W_hh, b_ih, b_hh, torch.tanh)
                    c2 = None
                elif cell == "lstm":
                    h2, c2 = ref.lstm_cell(inp[t], h, c, W_ih, W_hh, b_ih, b_hh)
                else:
                    h2, c2 = ref.gru_cell(inp[t], h, W_ih, W_hh, b_ih, b_hh), None
                h = torch.where(m > 0, h2, h)
                if c is not None:
                    c = torch.where(m > 0, c2, c)
                ys[t] = torch.where(m > 0, h2, torch.zeros_like(h2))
            outs.append(torch.stack(ys, 0))
            hn.append(h)
            cn.append(c)
        inp = torch.cat(outs, dim=2)
    return inp, torch.stack(hn, 0), torch.stack(cn, 0) if cell == "lstm" else None


def run_case(cell, layers, bidirectional):
    name = case_name(cell, layers, bidirectional)
    D = 2 if bidirectional else 1
    g = torch.Generator()
    g.manual_seed(zlib.crc32(("packed " + name).encode("ascii")))

    def uniform(*shape):
        return torch.rand(*shape, generator=g, dtype=torch.float64) - 0.5

    def normal(*shape):
        return torch.randn(*shape, generator=g, dtype=torch.float64)

    module = make_module(cell, layers, bidirectional)
    with torch.no_grad():
        for _, p in module.named_parameters():
            p.copy_(uniform(*p.shape))
    pnames = [n for n, _ in module.named_parameters()]
    lengths = torch.tensor(LENGTHS, dtype=torch.int64)[torch.randperm(B, generator=g)]

    x = normal(T, B, I)  # the padding holds random values too
    h0 = normal(layers * D, B, H) * 0.5
    c0 = normal(layers * D, B, H) * 0.5 if cell == "lstm" else None
    Wy = normal(T, B, D * H)
    Wh = normal(layers * D, B, H)
    Wc = normal(layers * D, B, H) if cell == "lstm" else None

    xl, h0l = ref.leaf(x), ref.leaf(h0)
    c0l = ref.leaf(c0) if c0 is not None else None
    packed = torch.nn.utils.rnn.pack_padded_sequence(xl, lengths, enforce_sorted=False)
    if cell == "lstm":
        out, (h_n, c_n) = module(packed, (h0l, c0l))
    else:
        out, h_n = module(packed, h0l)
        c_n = None
    y, _ = torch.nn.utils.rnn.pad_packed_sequence(out, total_length=T)
    L = ref.loss_of(y, h_n, c_n, Wy, Wh, Wc)
    L.backward()
    grads = {"x": xl.grad, "h0": h0l.grad}
    if c0l is not None:
        grads["c0"] = c0l.grad
    for n, p in module.named_parameters():
        grads[n] = p.grad.detach().clone()

    mparams = {n: ref.leaf(p) for n, p in module.named_parameters()}
    mx, mh0 = ref.leaf(x), ref.leaf(h0)
    mc0 = ref.leaf(c0) if c0 is not None else None
    my, mh_n, mc_n = masked_forward(cell, layers, bidirectional, mparams, mx, mh0, mc0, lengths)
    mL = ref.loss_of(my, mh_n, mc_n, Wy, Wh, Wc)
    mL.backward()
    ref.check_close(name + " y", my.detach(), y.detach(), 1e-12)
    ref.check_close(name + " h_n", mh_n.detach(), h_n.detach(), 1e-12)
    if c_n is not None:
        ref.check_close(name + " c_n", mc_n.detach(), c_n.detach(), 1e-12)
    ref.check_close(name + " grad_x", mx.grad, grads["x"], 1e-10)
    ref.check_close(name + " grad_h0", mh0.grad, grads["h0"], 1e-10)
    for n in pnames:
        ref.check_close(name + " grad_" + n, mparams[n].grad, grads[n], 1e-10)
    for b in range(B):  # the gradient reaches no padding
        if grads["x"][int(lengths[b]):, b].abs().max().item() if int(lengths[b]) < T else 0.0:
            sys.exit("gen_torch_packed.py: %s: padding of sequence %d has a gradient" % (name, b))

    tensors = [(n, p.detach()) for n, p in module.named_parameters()]
    tensors += [("x", x), ("lengths", lengths.to(torch.float64)), ("h0", h0)]
    if c0 is not None:
        tensors.append(("c0", c0))
    tensors += [("Wy", Wy), ("Wh", Wh)]
    if Wc is not None:
        tensors.append(("Wc", Wc))
    tensors += [("y", y.detach()), ("h_n", h_n.detach())]
    if c_n is not None:
        tensors.append(("c_n", c_n.detach()))
    tensors += [("loss", L.detach().reshape(1)), ("grad_x", grads["x"]), ("grad_h0", grads["h0"])]
    if "c0" in grads:
        tensors.append(("grad_c0", grads["c0"]))
    tensors += [("grad_" + n, grads[n]) for n in pnames]
    meta = "meta cell=%s layers=%d bidirectional=%d T=%d B=%d I=%d H=%d packed=1" % (
        cell, layers, 1 if bidirectional else 0, T, B, I, H)
    return name, meta, tensors


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(here, "data", "torch_packed"),
                    help="output folder (default: tests/data/torch_packed next to this script)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)
    for cell in CELLS:
        for layers in LAYERS:
            for bidirectional in DIRECTIONS:
                name, meta, tensors = run_case(cell, layers, bidirectional)
                path = os.path.join(args.out, name + ".ref")
                with open(path, "w", encoding="ascii", newline="\n") as f:
                    f.write(ref.format_file(meta, tensors).replace("tests/gen_torch_ref.py",
                                                                   "tests/gen_torch_packed.py"))
                print("wrote %s (%d tensors)" % (path, len(tensors)))


if __name__ == "__main__":
    main()
