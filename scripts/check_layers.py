#!/usr/bin/env python3
"""Checks that recur's layers call only the layers below them.

Usage: check_layers.py STAMP NM LAYER=ARCHIVE[:ALLOWED,...] ...

Each layer is a static library; ALLOWED names the layers it may call. A
function or variable a layer uses (nm: undefined) that another layer defines
must come from an allowed layer: otherwise the layer calls upward (or
sideways), and the build fails naming the object file, the symbol and the
layer that defines it. On success STAMP is written (a build output, so that
meson runs this whenever a layer changes).
"""
import subprocess
import sys


def symbols(nm, archive):
    """(defined, used): {symbol: object} of an archive's global definitions and its undefined references."""
    out = subprocess.run([nm, "-g", archive], capture_output=True, text=True, check=True).stdout
    defined, used, obj = {}, {}, archive
    for line in out.splitlines():
        if line.endswith(":") and not line.startswith(" "):
            obj = line[:-1]
            continue
        parts = line.split()
        if len(parts) == 2 and parts[0] == "U":
            used.setdefault(parts[1], obj)
        elif len(parts) == 3 and parts[1] in "TDBRCVW":
            defined[parts[2]] = obj
    return defined, used


def main():
    stamp, nm, specs = sys.argv[1], sys.argv[2], sys.argv[3:]
    layers = {}
    for spec in specs:
        name, rest = spec.split("=", 1)
        archive, _, allowed = rest.partition(":")
        layers[name] = (archive, set(a for a in allowed.split(",") if a))
    owner, uses = {}, {}
    for name, (archive, _) in layers.items():
        defined, used = symbols(nm, archive)
        for sym in defined:
            owner[sym] = name
        uses[name] = used
    bad = []
    for name, used in uses.items():
        allowed = layers[name][1] | {name}
        for sym, obj in sorted(used.items()):
            if sym in owner and owner[sym] not in allowed:
                bad.append(f"layer {name} ({obj}) uses {sym}, defined in layer {owner[sym]}, which it may not use")
    if bad:
        print("check_layers: a layer calls a layer it may not (see the layer table in README.md):", file=sys.stderr)
        for b in bad:
            print("  " + b, file=sys.stderr)
        return 1
    with open(stamp, "w") as f:
        f.write("ok\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
