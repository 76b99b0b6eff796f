#!/usr/bin/env bash
# Runs recur's main job: installs missing Debian packages, builds into
# build/, then replays the character-level text generation experiment of
# the material with the `recur` tool: an LSTM of 128 reading 40-character
# windows of The Adventures of Sherlock Holmes, a dense softmax over the
# book's symbols, trained for a few epochs on the machine's cores (a few
# minutes on 2). It prints progress, each epoch's time, the test loss next
# to the unigram entropy, and greedy and temperature samples after epoch 1
# and at the end; then writes into out/ the checkpoint (and the best one by
# test loss), the losses (CSV and plot) and the model's rolled and unrolled
# diagrams.
#
# Usage: ./run.sh [EPOCHS]          (default 25)
#
# The book comes from ../shared/data (or $RECUR_DATA). On a machine without
# it, the text is Ambrose Bierce's The Devil's Dictionary (1911, public
# domain), which Debian ships in the package dict-devil: its .deb is
# fetched with `apt-get download` and unpacked into build/data/, not
# installed (installing it would pull in dictd, a network server).
set -euo pipefail
cd "$(dirname "$0")"
. scripts/setup.sh
recur_install "${RECUR_PACKAGES[@]}"
recur_build build

epochs=${1:-25}
out=out
recur=./build/cli/recur
mkdir -p "$out" build/data

# The Devil's Dictionary as plain text in build/data/ (its preface onwards,
# without the dictionary server's headers and trailing index line).
devils_dictionary() {
    local dest=build/data/devils_dictionary.txt tmp
    if [ ! -s "$dest" ]; then
        tmp=$(mktemp -d)
        if ! (cd "$tmp" && apt-get download dict-devil >/dev/null 2>&1); then
            apt-get update -q >/dev/null
            (cd "$tmp" && apt-get download dict-devil >/dev/null 2>&1)
        fi
        dpkg-deb -x "$tmp"/dict-devil_*.deb "$tmp/pkg"
        zcat "$tmp/pkg/usr/share/dictd/devil.dict.dz" | sed -n '/PREFACE/,$p' | sed '$d' >"$dest.part"
        mv "$dest.part" "$dest"
        rm -rf "$tmp"
    fi
    echo "$dest"
}

data=${RECUR_DATA:-../shared/data}
if [ -r "$data/sherlock_adventures.txt" ]; then
    text="$data/sherlock_adventures.txt"
else
    echo "recur: $data/sherlock_adventures.txt is not here; using The Devil's Dictionary (Debian's dict-devil)"
    text=$(devils_dictionary)
fi

# recur decides its own threads (small kernels on one thread, large ones on its
# pool, whose workers never hold a step back when another process takes a core):
# no OpenMP setting is needed; --threads N caps them.
"$recur" train "$text" --epochs "$epochs" --hidden 128 --window 40 --batch 64 --backend onednn \
    --sample-length 300 --temperature 0.5 \
    -o "$out/char_rnn.ckpt" --loss-csv "$out/char_rnn_loss.csv" --loss-plot "$out/char_rnn_loss.svg"

echo
echo "The trained model:"
"$recur" info "$out/char_rnn.ckpt" | grep -E '^(checkpoint|parameters|optimizer)'
echo
echo "Generated with temperature 0.8, from the prompt 'The ':"
"$recur" generate "$out/char_rnn.ckpt" --prompt "The " -n 400 --temperature 0.8 --seed 3 --backend onednn
echo

"$recur" draw "$out/char_rnn.ckpt" --title "Character LSTM, rolled" -o "$out/char_rnn_rolled.svg"
"$recur" draw "$out/char_rnn.ckpt" --view unrolled --text "the best of" --title "Character LSTM, unrolled" \
    -o "$out/char_rnn_unrolled.svg"
echo
echo "Written to $out/: char_rnn.ckpt (the last epoch), char_rnn.best.ckpt (the lowest test loss), char_rnn_loss.csv,"
echo "    char_rnn_loss.svg, char_rnn_rolled.svg, char_rnn_unrolled.svg"
