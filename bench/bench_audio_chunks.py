"""What cutting audio into lanes costs: the encoder's bits/sample (model + adaptive stage,
ideal bits of what it codes) for lanes of several lengths, the network alone on whole
signals for reference, and the encoder's real speed at each length. Run it on training
data (the choice must not be tuned to dev). Usage:

    python bench/bench_audio_chunks.py ../shared/data/audio/train [--files 3] [--seconds 20]
        [--chunks 512 1024 2048 4096 8192] [--out bench/results/audio_chunks.json]

With --rule it instead compares, per set, CHUNK (or --base) with the length `lane_chunk`
gives each clip (only the clips it gives longer lanes), with the encoder's speed.
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
from arzip.codecs.audio.codec import CHUNK, lane_chunk
from arzip.codecs.audio.model import AudioModelConfig, WaveNet
from arzip.codecs.audio.training import sample_clips, signal_bits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--files", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--chunks", type=int, nargs="+", default=[512, 1024, 2048, 4096, 8192])
    parser.add_argument("--model", default=None)
    parser.add_argument("--rule", action="store_true", help="CHUNK vs lane_chunk per clip")
    parser.add_argument("--base", type=int, default=CHUNK, help="--rule: compare from here")
    parser.add_argument("--out", type=Path, default=Path("bench/results/audio_chunks.json"))
    args = parser.parse_args()
    info = zoo.find_model(args.model) if args.model else zoo.default_model("audio")
    codec = engine.load_codec("audio", info)
    data = sample_clips(args.folder, args.files, args.seconds)
    if args.rule:
        return compare_rule(codec, data, info.name, args.out, args.base)
    samples = sum(x.size for _, x, _ in data)
    torch.set_num_threads(1)
    exported = zoo.load_weights(info)  # the float network, for the whole-signal reference
    network = WaveNet(AudioModelConfig(**exported["config"]))
    network.load_state_dict(exported["state_dict"])
    whole = sum(signal_bits(network.eval(), x, rate, 1 << 30) for _, x, rate in data)
    print(f"network alone, whole signals: {whole / samples:.4f} bits/sample", file=sys.stderr)
    rows = []
    for chunk in args.chunks:
        codec.chunk = min(chunk, codec.block_frames)
        start, bits = time.perf_counter(), 0.0
        for _, x, rate in data:
            for _, _, block_bits, _ in codec.encode(x, info={"frames": len(x), "rate": rate,
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


def compare_rule(codec, data: list, model: str, out: Path,  # noqa: ANN001
                 base: int = CHUNK) -> None:
    """Real payload bits and encoder speed of `base` against `lane_chunk`, per set."""
    torch.set_num_threads(1)
    sets: dict[str, dict] = {}
    for name, x, rate in data:
        chunk = lane_chunk(len(x))
        if chunk <= base:
            continue
        row = sets.setdefault(name, {"clips": 0, "samples": 0, "bits": [0, 0], "seconds": [0, 0]})
        row["clips"] += 1
        row["samples"] += x.size
        info = {"frames": len(x), "rate": rate, "channels": x.shape[1]}
        for k, length in enumerate((base, chunk)):
            codec.chunk = length
            start = time.process_time()
            row["bits"][k] += sum(8 * len(p) for _, p, *_ in codec.encode(x, info=info))
            row["seconds"][k] += time.process_time() - start
    for name, row in sets.items():
        a, b = row["bits"]
        print(f"{name}: {a / row['samples']:.4f} -> {b / row['samples']:.4f} bits/sample "
              f"({100 * (b / a - 1):+.2f} %)", file=sys.stderr)
    total = {k: sum(r[k] for r in sets.values()) for k in ("clips", "samples")}
    bits = [sum(r["bits"][k] for r in sets.values()) for k in (0, 1)]
    seconds = [sum(r["seconds"][k] for r in sets.values()) for k in (0, 1)]
    print(f"all {total['clips']} clips: {bits[0] / total['samples']:.4f} -> "
          f"{bits[1] / total['samples']:.4f} ({100 * (bits[1] / bits[0] - 1):+.2f} %), "
          f"encoder {total['samples'] / seconds[0] / 1e3:.1f} k -> "
          f"{total['samples'] / seconds[1] / 1e3:.1f} k samples/s", file=sys.stderr)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"model": model, "machine": machine(), "base": base, "sets": sets,
                               "bits": bits, "seconds": seconds, **total}, indent=1))


if __name__ == "__main__":
    main()
