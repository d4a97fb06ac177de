#!/usr/bin/env bash
# Regenerate every result table and plot of the README from ../shared/data/*/dev:
#   bash bench/reproduce.sh            # the dev benchmark and likelihood maps (~45 min, 2 cores)
#   bash bench/reproduce.sh --memory   # also the memory and lane-length measurements (~30 min)
# Writes bench/results/ (JSON with the machine and library versions, CSV, PNG, HTML) and
# prints the README's tables (Markdown) to stdout, also saved as bench/results/tables.md.
set -euo pipefail
cd "$(dirname "$0")/.."
data=${DATA:-../shared/data}
jobs=${JOBS:-2}
out=bench/results
mkdir -p "$out"

# 1. arzip against the classical codecs of each kind, every result decoded and verified
arzip bench "$data/text/dev" "$data/image/dev" "$data/audio/dev" -j "$jobs" \
    --json "$out/dev.json" --csv "$out/dev.csv" --plot "$out/dev.png"

# 1b. the audio and text folders again, with numba's compiled code cached by step 1 (a
# fresh checkout compiles on first use, and that lands in the first file of each worker)
arzip bench "$data/audio/dev" -j "$jobs" --json "$out/audio_dev.json"
arzip bench "$data/text/dev" -j "$jobs" --json "$out/text_dev.json"

# 2. where the bits go: one file of each kind (maps) and the models' likelihoods
arzip likelihood "$data/text/dev/canterbury/alice29.txt" --map "$out/alice29.html" \
    --json > "$out/likelihood_text.json"
image=$(find "$data/image/dev" -name '*.png' | sort | head -n 1)
arzip likelihood "$image" --map "$out/image_map.png" --json > "$out/likelihood_image.json"
audio=$(find "$data/audio/dev/music_flac_testbench" -name '*.wav' | sort | head -n 1)
arzip likelihood "$audio" --map "$out/audio_map.png" --json > "$out/likelihood_audio.json"

# 3. what the models learned: one sample of each kind (seed 1; same bytes on any machine)
mkdir -p "$out/samples"
arzip sample text --length 400 --seed 1 -q -f -o "$out/samples/text.txt"
arzip sample text --length 400 --seed 1 --network-only -q -f -o "$out/samples/text_network_only.txt"
arzip sample image --size 64x64 --seed 1 -q -f -o "$out/samples/image.png"
arzip sample image --size 64x64 --seed 1 --temperature 0.7 -q -f -o "$out/samples/image_t07.png"
arzip sample audio --seconds 2 --rate 16000 --seed 1 -q -f -o "$out/samples/audio.wav"
arzip sample audio --seconds 2 --rate 16000 --seed 1 --temperature 0.7 -q -f \
    -o "$out/samples/audio_t07.wav"

# 4. early block decisions: random bytes, JPEGs, the probe on the dev texts
python3 bench/bench_probe.py "$data/text/dev"

# 5. optional: bounded memory and the lane-length trade-off
if [[ "${1:-}" == "--memory" ]]; then
    python3 bench/bench_memory.py "$data/text/dev/canterbury/lcet10.txt" --mb 1 4
    python3 bench/bench_image_memory.py "$data/image/dev/cid22_valid/1025469.png" --phases 6000x4000
    python3 bench/bench_audio_memory.py
    python3 bench/bench_audio_chunks.py "$data/audio/train"
fi

python3 bench/report.py "$out/dev.json" --readme README.md --only header image likelihood \
    | tee "$out/tables.md"
python3 bench/report.py "$out/text_dev.json" --readme README.md --only bytes | tee -a "$out/tables.md"
python3 bench/report.py "$out/audio_dev.json" --readme README.md --only audio | tee -a "$out/tables.md"
