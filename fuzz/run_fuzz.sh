#!/usr/bin/env bash
# fuzz/run_fuzz.sh [SECONDS] — builds the checkpoint fuzzer with clang
# (libFuzzer + AddressSanitizer + UndefinedBehaviorSanitizer) into
# build-fuzz/ and runs it for SECONDS (default 60) on a corpus seeded with
# the valid and corrupt checkpoints of tests/data/corrupt/. Exit status: 0
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
echo "run_fuzz: building $out/fuzz_checkpoint with $("$cc" --version | head -n 1)"
if ! "$cc" -std=c11 -g -O1 -fno-omit-frame-pointer -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
        -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
        -Iinclude -I. -Igraph/include "${sources[@]}" -lz -o "$out/fuzz_checkpoint" 2>"$out/build.log"; then
    if grep -q "fuzzer" "$out/build.log"; then
        cat "$out/build.log"
        echo "run_fuzz: $cc cannot link libFuzzer; skipped (Debian: apt-get install libclang-rt-14-dev)"
        exit 77
    fi
    cat "$out/build.log"
    echo "run_fuzz: the build failed"
    exit 1
fi

seeds=(tests/data/corrupt/*.ckpt)
echo "run_fuzz: running for ${seconds} s; corpus $out/corpus ($(ls "$out/corpus" | wc -l) inputs)" \
     "seeded with ${#seeds[@]} files from tests/data/corrupt/"
"$out/fuzz_checkpoint" "$out/corpus" tests/data/corrupt \
    -max_total_time="$seconds" -dict=fuzz/checkpoint.dict -max_len=4096 -timeout=10 \
    -rss_limit_mb=2048 -artifact_prefix="$out/artifacts/" -print_final_stats=1 \
    >"$out/fuzz.log" 2>&1
status=$?
grep -E "^(#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units|stat::peak_rss_mb|Done [0-9]+ runs)" "$out/fuzz.log"
echo "run_fuzz: corpus now holds $(ls "$out/corpus" | wc -l) inputs; full log in $out/fuzz.log"
if [ $status -ne 0 ]; then
    tail -n 60 "$out/fuzz.log"
    echo "run_fuzz: the fuzzer failed (status $status); crashing inputs:" "$out"/artifacts/*
    exit 1
fi
echo "run_fuzz: no crash in ${seconds} s"
exit 0
