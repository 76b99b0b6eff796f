#!/usr/bin/env bash
# fuzz/run_fuzz.sh [SECONDS] [TARGET] [LIBFUZZER OPTION...] — builds a
# libFuzzer target with clang (libFuzzer + AddressSanitizer +
# UndefinedBehaviorSanitizer) into build-fuzz/ and runs it for SECONDS
# (default 60) on its corpus (build-fuzz/corpus-TARGET/, kept between runs;
# the checkpoint's is build-fuzz/corpus/), seeded as fuzz/README.md says.
# TARGET is one of
#   checkpoint  the checkpoint reader (the default), seeded with tests/data/corrupt/
#   onnx        the ONNX importer, seeded with tests/data/onnx/ (needs protoc-c,
#               libprotobuf-c-dev and libonnx-dev too)
#   corpus      the character corpus reader (UTF-8)
#   csv         the CSV series reader
#   pairs       the sentence-pair (TSV) reader and its batches
#   tokenize    the sentence tokenizer
#   lines       the reader of a text's lines (recur train --lines) and their batches
# The data targets are seeded with the hand-made cases of fuzz/seeds/TARGET/
# and with slices of the real data sets of $RECUR_DATA (else ../shared/data)
# cut at run time into build-fuzz/seeds-TARGET/ (nothing of them is
# committed). Further arguments go to the fuzzer (-runs=1000000, say).
# Exit status: 0 when nothing crashed, 1 when the fuzzer found a crash (the
# input is kept in build-fuzz/artifacts/), 77 when clang or its libFuzzer
# runtime is missing (Debian: apt-get install clang libclang-rt-14-dev).
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
extra_opts=("${@:3}")
name=fuzz_$target
libs=(-lz)
seed_dirs=(tests/data/corrupt)
corpus=$out/corpus
log=$out/fuzz.log
fuzz_opts=(-dict=fuzz/checkpoint.dict)
data_sources=(data/data_util.c data/series.c data/corpus.c data/pairs.c data/pair_batches.c data/line_batches.c
              graph/error.c graph/random.c graph/shape.c)
real=${RECUR_DATA:-../shared/data}

# Cuts seeds for data target $1 from the real data set files $3... into $out/seeds-$1/, each
# prefixed by the option bytes $2 (printf escapes; "" for none): the file's start and a slice of its middle.
real_seeds() {
    local dir=$out/seeds-$1 prefix=$2 file size k=0
    shift 2
    mkdir -p "$dir"
    for file in "$@"; do
        [ -r "$real/$file" ] || continue
        size=$(stat -c %s "$real/$file")
        { printf "$prefix"; head -c 3000 "$real/$file"; } >"$dir/$file.start"
        { printf "$prefix"; tail -c +$((size / 2)) "$real/$file" | head -c 3000; } >"$dir/$file.middle"
        k=$((k + 2))
    done
    [ $k -gt 0 ] && seed_dirs+=("$dir")
}

case "$target" in
checkpoint) ;;
onnx)
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
    seed_dirs=(tests/data/onnx)
    corpus=$out/corpus-onnx
    log=$out/fuzz-onnx.log
    fuzz_opts=(-max_len=16384)
    ;;
corpus | csv | pairs | tokenize | lines)
    sources=(fuzz/fuzz_$target.c "${data_sources[@]}")
    libs=(-lm)
    seed_dirs=(fuzz/seeds/$target)
    corpus=$out/corpus-$target
    log=$out/fuzz-$target.log
    fuzz_opts=(-dict=fuzz/$target.dict)
    case "$target" in
    corpus) real_seeds corpus "" sherlock_adventures.txt tinyshakespeare.txt ;;
    # option byte 0x00: ',' with a header, column 0; 0x20: column 1; 0x30: interpolate missing values, column 1
    csv) real_seeds csv '\040' sunspots_yearly.csv co2_weekly.csv
         real_seeds csv-interp '\060' co2_weekly.csv ;;
    # option byte 0x40: batches of 2, every pair; 0x06: max_len 9
    pairs) real_seeds pairs '\100' eng_fra_tatoeba.tsv
           real_seeds pairs-short '\006' eng_fra_tatoeba.tsv ;;
    tokenize)
        # one seed per sentence of the first pairs, each side
        if [ -r "$real/eng_fra_tatoeba.tsv" ]; then
            mkdir -p "$out/seeds-tokenize"
            head -n 40 "$real/eng_fra_tatoeba.tsv" | cut -f 1,2 | tr '\t' '\n' |
                awk -v d="$out/seeds-tokenize" '{ f = sprintf("%s/s%03d", d, NR); printf "%s", $0 > f; close(f) }'
            seed_dirs+=("$out/seeds-tokenize")
        fi ;;
    # option bytes 0x00 0x03: no step limit, split, column 1 (the English side); 0x14 0x02: 8 steps, refuse
    lines) real_seeds lines '\000\003' eng_fra_tatoeba.tsv
           real_seeds lines-refuse '\024\002' tinyshakespeare.txt ;;
    esac
    ;;
*)
    echo "run_fuzz: unknown target '$target' (checkpoint, onnx, corpus, csv, pairs, tokenize or lines)"
    exit 2
    ;;
esac
mkdir -p "$corpus"
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

n_seeds=0
for d in "${seed_dirs[@]}"; do n_seeds=$((n_seeds + $(ls "$d" | wc -l))); done
echo "run_fuzz: running $name for ${seconds} s; corpus $corpus ($(ls "$corpus" | wc -l) inputs)" \
     "seeded with $n_seeds files from ${seed_dirs[*]}"
"$out/$name" "$corpus" "${seed_dirs[@]}" \
    -max_total_time="$seconds" -max_len=4096 "${fuzz_opts[@]}" -timeout=10 \
    -rss_limit_mb=2048 -artifact_prefix="$out/artifacts/" -print_final_stats=1 "${extra_opts[@]}" \
    >"$log" 2>&1
status=$?
grep -E "^(#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units|stat::peak_rss_mb|Done [0-9]+ runs)" "$log"
echo "run_fuzz: corpus now holds $(ls "$corpus" | wc -l) inputs; full log in $log"
if [ $status -ne 0 ]; then
    tail -n 60 "$log"
    echo "run_fuzz: the fuzzer failed (status $status); crashing inputs:" "$out"/artifacts/*
    exit 1
fi
echo "run_fuzz: no crash ($(grep -oE 'Done [0-9]+ runs in [0-9]+ second' "$log" | tail -n 1 || echo "${seconds} s")s)"
exit 0
