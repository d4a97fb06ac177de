"""Compare rules for the audio lanes' length (`lane_chunk`) by the context mixing's ideal
bits (encode only; the real payload is within 0.01 % of them), per file and in total.

    python bench/bench_audio_lane_rule.py FILE_OR_DIR... [--rules 32:8192:32 8:8192:32]
        [--out bench/results/audio_lane_rule_v2.json]

A rule is MIN_LANES:WIDE_CHUNK:MIN_WIDE_LANES (see `codecs/audio/codec.py`); the first is
the baseline. Files that every rule codes at the same lane length are skipped (their bits
do not change). Run it on training data: the dev set is for reporting.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

from arzip import engine, zoo  # noqa: E402
from arzip.codecs.audio import codec as audio_codec  # noqa: E402

SUFFIXES = {".wav", ".flac", ".aiff", ".aif"}


def ideal_bits(codec: audio_codec.AudioCodec, samples: np.ndarray, rate: int,
               chunk: int) -> float:
    """The context mixing's ideal bits of a file coded at lanes of `chunk` frames (what
    `AudioCodec.encode` reports per block)."""
    chosen = copy.copy(codec)
    chosen.chunk = chunk
    info = {"frames": len(samples), "rate": rate, "channels": samples.shape[1]}
    return sum(bits for _, _, bits, _ in chosen.encode(samples, info=info))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--rules", nargs="+", default=["32:8192:32", "8:8192:32"])
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    rules = [tuple(int(v) for v in r.split(":")) for r in args.rules]
    files = sorted(f for p in args.paths for f in ([p] if p.is_file() else p.rglob("*"))
                   if f.suffix.lower() in SUFFIXES)
    codec = engine.load_codec("audio", zoo.default_model("audio"))
    rows, totals, symbols = [], [0.0] * len(rules), 0
    for f in files:
        samples, rate = sf.read(f, dtype="int16", always_2d=True)
        chunks = [audio_codec.lane_chunk(len(samples), *r) for r in rules]
        if len(set(chunks)) == 1:
            continue
        known: dict[int, float] = {}
        for c in chunks:
            if c not in known:
                known[c] = ideal_bits(codec, samples, rate, c)
        bits = [known[c] for c in chunks]
        totals = [t + b for t, b in zip(totals, bits, strict=True)]
        symbols += samples.size
        rows.append({"file": str(f), "frames": len(samples), "channels": samples.shape[1],
                     "rate": rate, "chunks": chunks, "bits": bits})
        print(f"{f.name}: " + "  ".join(f"{c}: {b / samples.size:.4f}"
                                        for c, b in zip(chunks, bits, strict=True)), flush=True)
    if symbols:
        print(f"{len(rows)} files, {symbols} samples: " + "  ".join(
            f"{':'.join(map(str, r))} {t / symbols:.4f} ({(t / totals[0] - 1) * 100:+.3f} %)"
            for r, t in zip(rules, totals, strict=True)))
    if args.out:
        args.out.write_text(json.dumps({"rules": args.rules, "files": rows,
                                        "samples": symbols, "bits": totals}, indent=1))


if __name__ == "__main__":
    main()
