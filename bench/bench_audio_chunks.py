"""What cutting audio into lanes costs: the encoder's bits/sample (model + adaptive stage,
ideal bits of what it codes) for lanes of several lengths, the network alone on whole
signals for reference, and the encoder's real speed at each length. Run it on training
data (the choice must not be tuned to dev). Usage:

    python bench/bench_audio_chunks.py ../shared/data/audio/train [--files 3] [--seconds 20]
        [--chunks 512 1024 2048 4096 8192] [--out bench/results/audio_chunks.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from arzip import engine, zoo
from arzip.benchmark import machine
from arzip.codecs.audio.training import sample_clips, signal_bits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--files", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--chunks", type=int, nargs="+", default=[512, 1024, 2048, 4096, 8192])
    parser.add_argument("--model", default=None)
    parser.add_argument("--out", type=Path, default=Path("bench/results/audio_chunks.json"))
    args = parser.parse_args()
    info = zoo.find_model(args.model) if args.model else zoo.default_model("audio")
    codec = engine.load_codec("audio", info)
    data = sample_clips(args.folder, args.files, args.seconds)
    samples = sum(x.size for _, x, _ in data)
    torch.set_num_threads(1)
    whole = sum(signal_bits(codec.model, x, rate, 1 << 30) for _, x, rate in data)
    print(f"network alone, whole signals: {whole / samples:.4f} bits/sample", file=sys.stderr)
    rows = []
    for chunk in args.chunks:
        codec.chunk = min(chunk, codec.block_frames)
        start, bits = time.perf_counter(), 0.0
        for _, x, rate in data:
            for _, _, block_bits in codec.encode(x, info={"frames": len(x), "rate": rate,
                                                          "channels": x.shape[1]}):
                bits += block_bits
        row = {"chunk": chunk, "bits_per_sample": bits / samples,
               "encode_samples_per_s": samples / (time.perf_counter() - start)}
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    result = {"folder": str(args.folder), "files_per_set": args.files, "seconds": args.seconds,
              "samples": samples, "sets": sorted({s for s, _, _ in data}), "model": info.name,
              "network_alone_whole_bits_per_sample": whole / samples,
              "machine": machine(), "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
