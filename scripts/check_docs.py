#!/usr/bin/env python3
"""Checks that recur's documentation says what the code does, so the docs
cannot drift from the API. Prints TAP (one line a check) and exits 1 when a
check fails.

For each Markdown file:
  - code: every ```c block is compiled against the public headers only and
    linked with the shared library, with warnings as errors:
      * a complete program (a block that defines main) on its own, and then
        run: it must exit 0;
      * a fragment as part of its section's program: the fragments of one
        section (from a heading to the next) go in order into one main()
        (a fragment defining functions or types goes before main), so a
        fragment may use what an earlier one of its section made. The
        program is compiled, and run when a block of it says `run`.
    A comment right above a block (not shown by Markdown) may say more:
        <!-- doctest: WORDS
        setup: C statements put into main() just before the block
        end: C statements put into main() just after the block
        top: C code put at file scope
        -->
    WORDS are `run` (run the section's program), `new` (the block starts a
    new program of its section), `top` (the block goes at file scope),
    `norun` (a complete program compiled but not run: it needs data),
    `same-as PATH` (the block is the whole of the file PATH of the tree,
    which must not differ from it) and `skip REASON` (not compiled; the
    reason is printed). Compiler messages name the Markdown file and line.
  - names: every recur_* identifier the file mentions is declared by the
    public headers (for files given with --internal, by any header of the
    tree), and every RECUR_* name is a macro or constant of the public
    headers or appears in the tree's sources (environment variables);
  - paths: every relative link target and every path mentioned in
    backquotes under one of the tree's top-level folders exists (a program
    when its .c source does; in a table row, also from the folder the row
    is about), and no link leaves the repository.
Files given with --paths-only (CHANGELOG.md, which names things that are
gone) get the path checks only.
Also: the version of meson.build, of recur/common.h's macros, of the
newest entry of CHANGELOG.md and of output the documents show ("recur 0.1.0")
agree.

Usage: check_docs.py --root SRC --lib LIBRECUR.so --cc CC [--cflag F]...
                     [--internal FILE]... [--paths-only FILE]... FILE...
"""
import argparse
import fnmatch
import glob
import os
import re
import shlex
import subprocess
import sys
import tempfile

CFLAGS = ["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic-errors"]
# Fragments are parts of programs: a value a fragment makes may be used only by the next section.
FRAGMENT_CFLAGS = ["-Wno-unused-variable", "-Wno-unused-but-set-variable", "-Wno-unused-function",
                   "-Wno-unused-parameter"]
PRELUDE = "#include <math.h>\n#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n\n#include <recur.h>\n"
RUN_SECONDS = 120


class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def result(self, ok, what, detail=""):
        self.n += 1
        if not ok:
            self.failed += 1
        print(f"{'ok' if ok else 'not ok'} {self.n} - {what}")
        for line in detail.rstrip().splitlines():
            print(f"# {line}")
        sys.stdout.flush()

    def skip(self, what, reason):
        self.n += 1
        print(f"ok {self.n} - {what} # SKIP {reason}")


# ------------------------------------------------------------------ Markdown

class Block:
    def __init__(self, path, line, lang, code, words, setup, end, top):
        self.path, self.line, self.lang, self.code = path, line, lang, code
        self.words, self.setup, self.end, self.top = words, setup, end, top

    def where(self):
        return f"{self.path}:{self.line}"

    def complete(self):
        return re.search(r"^\s*int\s+main\s*\(", self.code, re.M) is not None

    def at_file_scope(self):
        """A block of definitions: explicitly, or a brace, typedef, struct, static or include at column 0."""
        if "top" in self.words:
            return True
        return re.search(r"^(\{|static\b|typedef\b|struct\b|#)", self.code, re.M) is not None


DIRECTIVE = re.compile(r"<!--\s*doctest:(.*?)-->", re.S)


def parse(path, rel):
    """The fenced blocks of a Markdown file with their section and directives."""
    lines = open(path, encoding="utf-8").read().split("\n")
    blocks, section, sections = [], "(top)", []
    i = 0
    while i < len(lines):
        line = lines[i]
        m = re.match(r"^(`{3,})\s*([\w+-]*)\s*$", line)
        if re.match(r"^#{1,6} ", line):
            section = line.lstrip("#").strip()
        if not m:
            i += 1
            continue
        fence, lang = m.group(1), m.group(2)
        start = i + 1
        j = start
        while j < len(lines) and not lines[j].startswith(fence):
            j += 1
        code = "\n".join(lines[start:j]) + "\n"
        # A directive: an HTML comment ending on the line before the fence (blank lines between allowed).
        k = i - 1
        while k >= 0 and not lines[k].strip():
            k -= 1
        words, setup, end, top = [], [], [], []
        if k >= 0 and lines[k].rstrip().endswith("-->"):
            s = k
            while s >= 0 and "<!--" not in lines[s]:
                s -= 1
            dm = DIRECTIVE.search("\n".join(lines[s:k + 1])) if s >= 0 else None
            if dm:
                body = dm.group(1).split("\n")
                words = body[0].split()
                for extra in body[1:]:
                    extra = extra.strip()
                    if extra.startswith("setup:"):
                        setup.append(extra[len("setup:"):].strip())
                    elif extra.startswith("end:"):
                        end.append(extra[len("end:"):].strip())
                    elif extra.startswith("top:"):
                        top.append(extra[len("top:"):].strip())
                    elif extra:
                        words += extra.split()
        b = Block(rel, start + 1, lang, code, words, setup, end, top)
        b.section = section
        blocks.append(b)
        i = j + 1
    return blocks


# ------------------------------------------------------------------ programs

def line_directive(line, path):
    return f'#line {line} "{path}"\n'


def fragment_program(blocks):
    """One C program from a section's fragments, with #line directives pointing into the Markdown."""
    top, body = [], []
    for b in blocks:
        for t in b.top:
            top.append(line_directive(b.line - 1, b.path + " (doctest top:)") + t + "\n")
        for s in b.setup:
            body.append(line_directive(b.line - 1, b.path + " (doctest setup:)") + s + "\n")
        text = line_directive(b.line, b.path) + b.code
        (top if b.at_file_scope() else body).append(text)
        for e in b.end:
            body.append(line_directive(b.line - 1, b.path + " (doctest end:)") + e + "\n")
    return (PRELUDE + "\n" + "".join(top) + "\nint main(void)\n{\n" + "".join(body) +
            '#line 1 "(doctest end)"\n    return 0;\n}\n')


def complete_program(b):
    return "".join(line_directive(b.line - 1, b.path + " (doctest top:)") + t + "\n" for t in b.top) + \
        line_directive(b.line, b.path) + b.code


def numbered(text):
    return "".join(f"{n:4} {l}\n" for n, l in enumerate(text.split("\n"), 1))


def build_and_run(tap, args, workdir, name, source, what, run, fragment):
    c = os.path.join(workdir, name + ".c")
    exe = os.path.join(workdir, name)
    with open(c, "w") as f:
        f.write(source)
    libdir = os.path.dirname(os.path.abspath(args.lib))
    cmd = (shlex.split(args.cc) + CFLAGS + (FRAGMENT_CFLAGS if fragment else []) + args.cflag +
           ["-I", os.path.join(args.root, "include"), c, "-o", exe, os.path.abspath(args.lib),
            "-Wl,-rpath," + libdir, "-lm"])
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        tap.result(False, f"{what} compiles", r.stdout + r.stderr + "the program:\n" + numbered(source))
        return
    if not run:
        tap.result(True, f"{what} compiles")
        return
    env = dict(os.environ)
    if fragment:
        # Fragments show the calls, not the clean-up: leaks are expected there.
        env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":detect_leaks=0"
    try:
        r = subprocess.run([exe], cwd=workdir, capture_output=True, text=True, timeout=RUN_SECONDS, env=env)
        ok, out = r.returncode == 0, f"exit status {r.returncode}\n" + r.stdout[-3000:] + r.stderr[-3000:]
    except subprocess.TimeoutExpired:
        ok, out = False, f"still running after {RUN_SECONDS} s"
    tap.result(ok, f"{what} compiles and runs", "" if ok else out + "the program:\n" + numbered(source))


def check_code(tap, args, blocks, workdir, stem):
    groups, current = [], None
    for b in blocks:
        if b.lang != "c":
            continue
        if b.words and b.words[0] == "skip":
            tap.skip(f"{b.where()}: C block", " ".join(b.words[1:]) or "no reason given")
            continue
        if "same-as" in b.words:
            i = b.words.index("same-as")
            target = b.words[i + 1] if i + 1 < len(b.words) else ""
            path = os.path.join(args.root, target)
            same = os.path.isfile(path) and open(path, encoding="utf-8").read() == b.code
            tap.result(same, f"{b.where()}: the block is {target} as it is in the tree",
                       "" if same else "the block and the file differ (or the file is missing)")
        if b.complete():
            groups.append(("complete", [b]))
            continue
        if current is None or current[1][0].section != b.section or "new" in b.words:
            current = ("fragments", [])
            groups.append(current)
        current[1].append(b)
    for n, (kind, bs) in enumerate(groups):
        name = f"{stem}_{n}"
        if kind == "complete":
            b = bs[0]
            build_and_run(tap, args, workdir, name, complete_program(b), f"{b.where()}: the complete program",
                          "norun" not in b.words, False)
        else:
            lines = ", ".join(str(b.line) for b in bs)
            what = f"{bs[0].path}: section \"{bs[0].section}\", fragments at lines {lines}"
            build_and_run(tap, args, workdir, name, fragment_program(bs), what,
                          any("run" in b.words for b in bs), True)


# ------------------------------------------------------------------ names and paths

def strip_c_comments(text):
    return re.sub(r"/\*.*?\*/|//[^\n]*", " ", text, flags=re.S)


def names_in(files):
    found = set()
    for f in files:
        found |= set(re.findall(r"\b(?:recur|RECUR)_\w+", strip_c_comments(open(f, encoding="utf-8").read())))
    return found


def tree_files(root, exts):
    out = subprocess.run(["git", "-C", root, "ls-files"], capture_output=True, text=True)
    if out.returncode == 0 and out.stdout.strip():
        files = out.stdout.split()
    else:
        files = [os.path.relpath(p, root) for p in glob.glob(os.path.join(root, "**", "*"), recursive=True)]
    return [os.path.join(root, f) for f in files if f.endswith(exts) and os.path.isfile(os.path.join(root, f))]


def check_names(tap, rel, text, public, internal, sources_text, is_internal):
    # Paths such as bench/recur_rnn name files, not identifiers.
    text = re.sub(r"[\w.-]*/[\w./-]*", " ", text)
    # RECUR_VERSION_* names a family: some name must begin so.
    mentioned = sorted(set(re.findall(r"\b(?:recur|RECUR)_\w*[A-Za-z0-9](?:_\*)?", text)))
    known = internal if is_internal else public
    unknown = []
    for name in mentioned:
        if name.endswith("_*"):
            if not any(k.startswith(name[:-1]) for k in known):
                unknown.append(name)
        elif name.startswith("recur_"):
            if name not in known:
                unknown.append(name)
        elif name not in known and not re.search(r"\b" + re.escape(name) + r"\b", sources_text):
            unknown.append(name)
    scope = "any header of the tree" if is_internal else "the public headers"
    tap.result(not unknown, f"{rel}: the {len(mentioned)} recur_/RECUR_ names it mentions exist ({scope})",
               "not found: " + ", ".join(unknown) if unknown else "")


def path_exists(root, quoted, row_folder):
    """A path named in backquotes: a file or folder (globs allowed), a program built from its .c
    source, or an output the programs write (a path git ignores, such as examples/out/)."""
    for base in [root] + ([os.path.join(root, row_folder)] if row_folder else []):
        p = os.path.join(base, quoted)
        if glob.glob(p) or os.path.isfile(p + ".c"):
            return True
    ignored = subprocess.run(["git", "-C", root, "check-ignore", "-q", quoted.rstrip("/") + "/x"],
                             capture_output=True)
    if ignored.returncode in (0, 1):
        return ignored.returncode == 0
    # Not a git checkout (a source tarball): the top-level .gitignore's plain patterns.
    path = quoted.rstrip("/")
    try:
        patterns = [l.strip().strip("/") for l in open(os.path.join(root, ".gitignore")) if l.strip() and l[0] != "#"]
    except OSError:
        return False
    return any(path == p or path.startswith(p + "/") or fnmatch.fnmatch(path, p) for p in patterns)


def check_paths(tap, root, rel, text):
    tracked = subprocess.run(["git", "-C", root, "ls-files"], capture_output=True, text=True).stdout.split()
    top = {f.split("/")[0] for f in tracked if "/" in f} or \
        {d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)) and not d.startswith(".")}
    base = os.path.dirname(os.path.join(root, rel))
    bad = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"^[a-z]+:", target) or target.startswith("#"):
            continue
        path = os.path.normpath(os.path.join(base, target.split("#")[0]))
        if not path.startswith(os.path.abspath(root) + os.sep) and path != os.path.abspath(root):
            bad.append(f"link {target}: outside the repository")
        elif not os.path.exists(path):
            bad.append(f"link {target}: no such file")
    for line in text.split("\n"):
        # A table row about a folder (| `graph/` | ... `include/graph/ir.h` ...) names paths inside it.
        row = re.match(r"^\|\s*`([\w.-]+/)`\s*\|", line)
        for quoted in re.findall(r"`([^`\s]+)`", line):
            # `recur_draw(g, ...)` and `./run.sh 5` are not paths; `examples/sines.c` and `docs/` are.
            first = quoted.split("/")[0]
            if quoted.startswith("../") and quoted.endswith(".md"):
                bad.append(f"`{quoted}`: a document outside the repository (keep what a reader needs inside it)")
                continue
            if "/" not in quoted or first not in top or re.search(r"[<>(){}=$,]", quoted):
                continue
            if not path_exists(root, quoted, row.group(1) if row else None):
                bad.append(f"`{quoted}`: no such file")
    tap.result(not bad, f"{rel}: its links and the paths it names exist in the repository", "\n".join(sorted(set(bad))))


def check_versions(tap, root, docs):
    meson = re.search(r"version\s*:\s*'([^']+)'", open(os.path.join(root, "meson.build")).read())
    common = open(os.path.join(root, "include", "recur", "common.h")).read()
    parts = [re.search(r"#define RECUR_VERSION_" + p + r"\s+(\d+)", common) for p in ("MAJOR", "MINOR", "PATCH")]
    string = re.search(r'#define RECUR_VERSION_STRING\s+"([^"]+)"', common)
    changelog_path = os.path.join(root, "CHANGELOG.md")
    newest = None
    if os.path.exists(changelog_path):
        newest = re.search(r"^## \[?(\d+\.\d+\.\d+)", open(changelog_path).read(), re.M)
    found = {
        "meson.build": meson and meson.group(1),
        "RECUR_VERSION_MAJOR.MINOR.PATCH": ".".join(p.group(1) for p in parts) if all(parts) else None,
        "RECUR_VERSION_STRING": string and string.group(1),
        "CHANGELOG.md's newest entry": newest and newest.group(1),
    }
    # Output shown in the documents ("recur 0.1.0: h_3 = ...") names the version too.
    for rel in docs:
        for n, line in enumerate(open(os.path.join(root, rel), encoding="utf-8").read().split("\n"), 1):
            for v in re.findall(r"\brecur (\d+\.\d+\.\d+)\b", line):
                found[f"{rel}:{n}"] = v
    ok = None not in found.values() and len(set(found.values())) == 1
    tap.result(ok, f"the version is the same everywhere ({found['meson.build']})",
               "" if ok else "\n".join(f"{k}: {v}" for k, v in found.items()))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", required=True)
    ap.add_argument("--lib", required=True, help="the shared library to link with")
    ap.add_argument("--cc", default="cc")
    ap.add_argument("--cflag", action="append", default=[], help="more compiler flags (sanitizers)")
    ap.add_argument("--internal", action="append", default=[], help="a file that may name internal functions")
    ap.add_argument("--paths-only", action="append", default=[], help="a file whose paths only are checked")
    ap.add_argument("--keep", help="write the generated programs into this folder and keep them")
    ap.add_argument("files", nargs="*")
    args = ap.parse_args()
    root = os.path.abspath(args.root)
    tap = Tap()

    public = names_in(glob.glob(os.path.join(root, "include", "recur", "*.h")) + [os.path.join(root, "include", "recur.h")])
    internal = public | names_in(tree_files(root, (".h",)))
    sources_text = "\n".join(open(f, encoding="utf-8", errors="replace").read()
                             for f in tree_files(root, (".c", ".h", ".sh", ".py", ".build", "run")))

    check_versions(tap, root, args.files)
    if args.keep:
        os.makedirs(args.keep, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="recur-docs-") as tmp:
        workdir = os.path.abspath(args.keep) if args.keep else tmp
        for n, rel in enumerate(args.files + args.internal + args.paths_only):
            path = os.path.join(root, rel)
            text = open(path, encoding="utf-8").read()
            check_paths(tap, root, rel, text)
            if rel in args.paths_only:
                continue
            check_names(tap, rel, text, public, internal, sources_text, rel in args.internal)
            check_code(tap, args, parse(path, rel), workdir, f"doc{n}")
    print(f"1..{tap.n}")
    return 1 if tap.failed else 0


if __name__ == "__main__":
    sys.exit(main())
