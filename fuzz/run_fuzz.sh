#!/usr/bin/env bash
# fuzz/run_fuzz.sh [SECONDS] [TARGET] — builds the checkpoint fuzzer with clang
# (libFuzzer + AddressSanitizer + UndefinedBehaviorSanitizer) into
# build-fuzz/ and runs it for SECONDS (default 60) on a corpus seeded with
# the valid and corrupt checkpoints of tests/data/corrupt/. TARGET "onnx"
# builds and runs the ONNX importer's fuzzer (fuzz/fuzz_onnx.c) instead, on a
# corpus (build-fuzz/corpus-onnx/) seeded with the models of tests/data/onnx/;
# it needs protoc-c, libprotobuf-c-dev and libonnx-dev too. Exit status: 0
# when nothing crashed, 1 when the fuzzer found a crash (the input is kept
# in build-fuzz/artifacts/), 77 when clang or its libFuzzer runtime is
# missing (Debian: apt-get install clang libclang-rt-14-dev).
set -uo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
out=build-fuzz
cc=${CLANG:-clang}

if ! command -v "$cc" >/dev/null; then
    echo "run_fuzz: $cc not found; skipped (Debian: apt-get install clang libclang-rt-14-dev)"
    exit 77
fi
mkdir -p "$out/corpus" "$out/artifacts"

sources=(fuzz/fuzz_checkpoint.c checkpoint/checkpoint.c checkpoint/checkpoint_read.c checkpoint/checkpoint_write.c
         checkpoint/crc32.c graph/shape.c graph/error.c)
target=${2:-checkpoint}
name=fuzz_$target
libs=(-lz)
seed_dir=tests/data/corrupt
seed_glob="*.ckpt"
corpus=$out/corpus
log=$out/fuzz.log
fuzz_opts=(-dict=fuzz/checkpoint.dict)
if [ "$target" = onnx ]; then
    # the importer and what it builds on (the graph core, the op table, the layers), with the protobuf-c
    # code generated from Debian's onnx.proto as the build generates it (onnx/meson.build)
    gen=$out/onnx-gen
    mkdir -p "$gen"
    if ! sed -e 's/^package onnx;/package recur_onnx;/' /usr/include/onnx/onnx.proto >"$gen/recur_onnx.proto" ||
            ! protoc-c --proto_path="$gen" --c_out="$gen" "$gen/recur_onnx.proto"; then
        echo "run_fuzz: cannot generate the ONNX schema's code (Debian: apt-get install protobuf-c-compiler libonnx-dev)"
        exit 1
    fi
    sources=(fuzz/fuzz_onnx.c graph/*.c ops/*.c layers/*.c onnx/*.c "$gen/recur_onnx.pb-c.c")
    libs=(-fopenmp=libgomp -lprotobuf-c -lm)
    seed_dir=tests/data/onnx
    seed_glob="*.onnx"
    corpus=$out/corpus-onnx
    log=$out/fuzz-onnx.log
    fuzz_opts=(-max_len=16384)
    mkdir -p "$corpus"
elif [ "$target" != checkpoint ]; then
    echo "run_fuzz: unknown target '$target' (checkpoint or onnx)"
    exit 2
fi
echo "run_fuzz: building $out/$name with $("$cc" --version | head -n 1)"
flags=(-std=c11 -g -O1 -fno-omit-frame-pointer -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE
       -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Iinclude -I. -Igraph/include)
: >"$out/build.log"
if [ "$target" = onnx ]; then
    # One object per file: clang 14 names the dispatcher of a target_clones function (ops/pointwise.h)
    # NAME.ifunc, so calls from other files do not find NAME; the objects get it renamed back.
    objs=()
    for src in "${sources[@]}"; do
        obj=$out/onnx-obj/$(echo "$src" | tr / _).o
        mkdir -p "$out/onnx-obj"
        "$cc" "${flags[@]}" -Iops/include "-I$gen" -fopenmp=libgomp -c "$src" -o "$obj" 2>>"$out/build.log" || continue
        for sym in $(nm "$obj" | awk '$3 ~ /\.ifunc$/ {print $3}'); do
            objcopy --redefine-sym "$sym=${sym%.ifunc}" "$obj"
        done
        objs+=("$obj")
    done
    sources=("${objs[@]}")
fi
if ! "$cc" "${flags[@]}" "${sources[@]}" "${libs[@]}" -o "$out/$name" 2>>"$out/build.log"; then
    if grep -q "fuzzer" "$out/build.log"; then
        cat "$out/build.log"
        echo "run_fuzz: $cc cannot link libFuzzer; skipped (Debian: apt-get install libclang-rt-14-dev)"
        exit 77
    fi
    cat "$out/build.log"
    echo "run_fuzz: the build failed"
    exit 1
fi

seeds=("$seed_dir"/$seed_glob)
echo "run_fuzz: running for ${seconds} s; corpus $corpus ($(ls "$corpus" | wc -l) inputs)" \
     "seeded with ${#seeds[@]} files from $seed_dir/"
"$out/$name" "$corpus" "$seed_dir" \
    -max_total_time="$seconds" -max_len=4096 "${fuzz_opts[@]}" -timeout=10 \
    -rss_limit_mb=2048 -artifact_prefix="$out/artifacts/" -print_final_stats=1 \
    >"$log" 2>&1
status=$?
grep -E "^(#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units|stat::peak_rss_mb|Done [0-9]+ runs)" "$log"
echo "run_fuzz: corpus now holds $(ls "$corpus" | wc -l) inputs; full log in $log"
if [ $status -ne 0 ]; then
    tail -n 60 "$log"
    echo "run_fuzz: the fuzzer failed (status $status); crashing inputs:" "$out"/artifacts/*
    exit 1
fi
echo "run_fuzz: no crash in ${seconds} s"
exit 0
