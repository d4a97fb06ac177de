#!/usr/bin/env bash
# The main job on a file shipped in the repo: compress, decompress, verify, compare with
# the classical compressors (arzip bench).
set -euo pipefail
cd "$(dirname "$0")/.."
sample=${1:-docs/FORMAT.md}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$sample" "$work/sample"
arzip compress -v "$work/sample"
arzip decompress -q -o "$work/restored" "$work/sample.arz"
cmp "$work/sample" "$work/restored" && echo "round trip: identical" >&2
# the same file against gzip, bzip2, xz, zstd and brotli, every result decoded and checked
arzip bench -q "$work/sample"
