#!/usr/bin/env bash
# scripts/check_install.sh — uses recur as a program outside the tree would:
# configures and builds the library into BUILD (default build-install) with
# its install prefix BUILD/prefix, runs `meson install`, then compiles every
# program of examples/ against the installed headers and library with
# pkg-config alone (-std=c11, warnings as errors, no project flags), runs
# examples/hello, and links hello once more with the static library.
# Prints one line per check and exits 1 if any failed.
#
# Usage: scripts/check_install.sh [BUILD] [meson options...]
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-install}
shift || true
prefix=$PWD/$build/prefix
werror=()
[ "${CI:-}" = "true" ] && werror=(-Dwerror=true)

if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" --prefix="$prefix" -Dtests=false -Dbench=false "${werror[@]}" "$@" >/dev/null || exit 1
fi
ninja -C "$build" >/dev/null || { echo "check_install: the build failed"; exit 1; }
rm -rf "$prefix"
meson install -C "$build" --quiet >/dev/null || { echo "check_install: meson install failed"; exit 1; }

# As the README tells a user whose prefix is not the system's.
pcdir=$(dirname "$(find "$prefix" -name recur.pc -print -quit)")
export PKG_CONFIG_PATH=$pcdir
libdir=$(pkg-config --variable=libdir recur)
if [ "$(pkg-config --modversion recur)" != "$(sed -n "s/^  version : '\(.*\)',$/\1/p" meson.build)" ]; then
    echo "check_install: pkg-config says recur $(pkg-config --modversion recur), meson.build another version"
    exit 1
fi

out=$build/examples-installed
rm -rf "$out"
mkdir -p "$out"
failed=0
cflags=(-std=c11 -Wall -Wextra -Werror -pedantic-errors)
# shellcheck disable=SC2046
for src in examples/*.c; do
    name=$(basename "$src" .c)
    if cc "${cflags[@]}" $(pkg-config --cflags recur) "$src" -o "$out/$name" $(pkg-config --libs recur) -lm; then
        echo "ok: $src builds against the installed recur"
    else
        echo "FAILED: $src does not build against the installed recur"
        failed=1
    fi
done

# examples/hello runs with the installed shared library, and links statically too.
if [ -x "$out/hello" ]; then
    if LD_LIBRARY_PATH=$libdir "$out/hello" >"$out/hello.txt"; then
        echo "ok: examples/hello runs: $(head -1 "$out/hello.txt")"
    else
        echo "FAILED: examples/hello exits with an error"
        failed=1
    fi
fi
# shellcheck disable=SC2046
if cc "${cflags[@]}" $(pkg-config --cflags recur) examples/hello.c -o "$out/hello_static" \
        -Wl,-Bstatic -lrecur -Wl,-Bdynamic $(pkg-config --static --libs recur) -lm &&
   ! readelf -d "$out/hello_static" | grep -q 'librecur\.so' && "$out/hello_static" >/dev/null; then
    echo "ok: examples/hello links with librecur.a and runs"
else
    echo "FAILED: examples/hello does not link with librecur.a (or needs librecur.so, or fails)"
    failed=1
fi
exit $failed
