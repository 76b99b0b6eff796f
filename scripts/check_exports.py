#!/usr/bin/env python3
"""Checks what recur's libraries export: every global symbol the shared
library exports and the static library defines is named recur_* (so no
program's own function can clash with one of recur's), and the shared
library exports exactly the functions the public headers declare RECUR_API.

Usage: check_exports.py NM LIBRECUR.so LIBRECUR.a INCLUDE_DIR
"""
import glob
import os
import re
import subprocess
import sys


def names(nm, args):
    out = subprocess.run([nm] + args, capture_output=True, text=True, check=True).stdout
    found = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "TDBRCVWG":
            found.add(parts[2])
    return found


def main():
    nm, shared, static, include = sys.argv[1:5]
    bad = 0
    exported = names(nm, ["-D", "--defined-only", shared])
    defined = names(nm, ["-g", "--defined-only", static])
    for label, syms in (("the shared library exports", exported), ("the static library defines", defined)):
        # Names beginning with "__" are the compiler's and the sanitizers' (__odr_asan.x in an ASan build).
        others = sorted(s for s in syms if not s.startswith("recur_") and not s.startswith("__"))
        if others:
            bad = 1
            print(f"{label} {len(others)} names without the recur_ prefix: {', '.join(others[:20])}")
    declared = set()
    for header in glob.glob(os.path.join(include, "recur", "*.h")):
        declared |= set(re.findall(r"^RECUR_API [^(;]*?\b(recur_\w+)\(", open(header).read(), re.M))
    missing = sorted(declared - exported)
    # GCC gives the ifunc resolvers of target_clones functions (ops/pointwise.c) default visibility;
    # they are named after their recur_ function and hold no API.
    extra = sorted(s for s in exported - declared if not s.endswith(".resolver") and not s.startswith("__"))
    if missing:
        bad = 1
        print(f"declared RECUR_API but not exported (not defined?): {', '.join(missing)}")
    if extra:
        bad = 1
        print(f"exported but declared in no public header: {', '.join(extra)}")
    print(f"{len(exported)} exported symbols, {len(declared)} public functions declared")
    return bad


if __name__ == "__main__":
    sys.exit(main())
