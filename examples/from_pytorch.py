#!/usr/bin/env python3
"""Trains a character-level LSTM in PyTorch and exports it as ONNX for recur.

    /usr/bin/python3 examples/from_pytorch.py [TEXT] [OUT.onnx] [--steps N]

(Debian: apt-get install python3-torch python3-onnx.) The model is the one
`recur train --embed 16` builds: an embedding, an LSTM, a linear layer to the
logits of the next symbol, with PyTorch's names emb, lstm and out, which recur's
import keeps. The symbols are the text's characters in code point order, as
recur's corpora number them. The ONNX file carries the model's description as
metadata_props (model.kind "char-rnn", the vocabulary and the sizes), so that

    build/cli/recur import OUT.onnx -o model.ckpt
    build/cli/recur generate model.ckpt -p "The " -n 200

generates from it in C (docs/guide.md, section 10). Without TEXT it trains on a
short built-in text.
"""
import argparse
import random

import onnx
import torch

SAMPLE = ("It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of "
          "foolishness, it was the epoch of belief, it was the epoch of incredulity, it was the season of Light, "
          "it was the season of Darkness, it was the spring of hope, it was the winter of despair. ")


class CharLSTM(torch.nn.Module):
    def __init__(self, vocab, embed, hidden, layers):
        super().__init__()
        self.emb = torch.nn.Embedding(vocab, embed)
        self.lstm = torch.nn.LSTM(embed, hidden, num_layers=layers)
        self.out = torch.nn.Linear(hidden, vocab)

    def forward(self, ids):  # ids [T, B], time-major as recur's sequences
        y, _ = self.lstm(self.emb(ids))
        return self.out(y)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("text", nargs="?", help="a UTF-8 text file (default: a built-in paragraph)")
    ap.add_argument("out", nargs="?", default="char.onnx", help="the ONNX file to write (default char.onnx)")
    ap.add_argument("--steps", type=int, default=400, help="training steps (default 400)")
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--embed", type=int, default=16)
    ap.add_argument("--layers", type=int, default=1)
    args = ap.parse_args()

    text = open(args.text, encoding="utf-8").read() if args.text else SAMPLE * 20
    vocab = "".join(sorted(set(text)))  # recur numbers symbols by code point
    if "\0" in vocab:
        raise SystemExit("the text holds a NUL character, which a checkpoint's vocabulary cannot")
    ids = torch.tensor([vocab.index(ch) for ch in text])
    torch.manual_seed(0)
    random.seed(0)
    model = CharLSTM(len(vocab), args.embed, args.hidden, args.layers)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    T, B = 32, 16
    for step in range(1, args.steps + 1):
        starts = [random.randrange(len(ids) - T - 1) for _ in range(B)]
        x = torch.stack([ids[s:s + T] for s in starts], 1)
        y = torch.stack([ids[s + 1:s + T + 1] for s in starts], 1)
        loss = torch.nn.functional.cross_entropy(model(x).reshape(-1, len(vocab)), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 100 == 0 or step == args.steps:
            print("step %d  loss %.3f" % (step, loss.item()))

    model.eval()
    torch.onnx.export(model, (ids[:T].reshape(T, 1),), args.out, input_names=["ids"], output_names=["logits"],
                      dynamic_axes={"ids": {0: "T", 1: "B"}}, opset_version=14)
    m = onnx.load(args.out)
    meta = {"model.kind": "char-rnn", "model.cell": "lstm", "model.vocab": vocab, "model.vocab_size": len(vocab),
            "model.hidden": args.hidden, "model.layers": args.layers, "model.embed": args.embed}
    for k, v in meta.items():
        m.metadata_props.add(key=k, value=str(v))
    onnx.checker.check_model(m)
    onnx.save(m, args.out)
    print("wrote %s (%d symbols); now:\n  build/cli/recur import %s -o model.ckpt\n"
          "  build/cli/recur generate model.ckpt -p \"It was \" -n 200" % (args.out, len(vocab), args.out))


if __name__ == "__main__":
    main()
