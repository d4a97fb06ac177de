#!/usr/bin/env bash
# The main job on a file shipped in the repo: compress, decompress, verify, compare with xz.
set -euo pipefail
cd "$(dirname "$0")/.."
sample=${1:-docs/FORMAT.md}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$sample" "$work/sample"
arzip compress -v "$work/sample"
arzip decompress -q -o "$work/restored" "$work/sample.arz"
cmp "$work/sample" "$work/restored" && echo "round trip: identical" >&2
xz -9e -k -c "$work/sample" > "$work/sample.xz"
printf '%-10s %8s bytes\n' original "$(wc -c < "$work/sample")" \
    arzip "$(wc -c < "$work/sample.arz")" "xz -9e" "$(wc -c < "$work/sample.xz")"
