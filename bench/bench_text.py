"""Benchmark the bytes codec against classical compressors on every file of some folders.

Each file is compressed separately by every codec, decompressed again and compared with
the original (a failed round trip is reported, never counted). Totals are file bits /
original bytes. Usage:

    python bench/bench_text.py ../shared/data/text/dev/canterbury [more folders]
        [--model SPEC] [--out bench/results/text.json]
"""

from __future__ import annotations

import argparse
import bz2
import gzip
import io
import json
import lzma
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np
import torch

from arzip import __version__, engine


def _optional(name: str):
    try:
        return __import__(name)
    except ImportError:
        return None


def classical_codecs() -> tuple[dict, dict]:
    """name -> (compress, decompress), and the skipped ones with the reason."""
    codecs = {
        "gzip -9": (lambda d: gzip.compress(d, 9, mtime=0), gzip.decompress),
        "bzip2 -9": (lambda d: bz2.compress(d, 9), bz2.decompress),
        "xz -9e": (lambda d: lzma.compress(d, preset=9 | lzma.PRESET_EXTREME), lzma.decompress),
    }
    skipped = {}
    zstandard = _optional("zstandard")
    if zstandard:
        codecs["zstd -19"] = (lambda d: zstandard.ZstdCompressor(level=19).compress(d),
                              lambda d: zstandard.ZstdDecompressor().decompress(d))
    else:
        skipped["zstd -19"] = "python module zstandard not installed"
    brotli = _optional("brotli")
    if brotli:
        codecs["brotli -q 11"] = (lambda d: brotli.compress(d, quality=11), brotli.decompress)
    else:
        skipped["brotli -q 11"] = "python module brotli not installed"
    return codecs, skipped


def arzip_codec(model: str | None, coder_log: list):
    def compress(data: bytes) -> bytes:
        out = io.BytesIO()
        stats = engine.compress_stream(io.BytesIO(data), out, model)
        coder_log.append({"model_nll_bits": stats.model_bits,
                          "model_coded_bits": stats.model_coded_bits, "methods": stats.methods})
        return out.getvalue()

    def decompress(blob: bytes) -> bytes:
        out = io.BytesIO()
        engine.decompress_stream(io.BytesIO(blob), out.write)
        return out.getvalue()

    return compress, decompress


def measure(name, compress, decompress, data: bytes) -> dict:
    t0 = time.perf_counter()
    blob = compress(data)
    t1 = time.perf_counter()
    back = decompress(blob)
    t2 = time.perf_counter()
    return {"codec": name, "bytes": len(blob), "ok": back == data,
            "encode_s": t1 - t0, "decode_s": t2 - t1}


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")),
               platform.processor())
    return {"cpu": cpu, "cores": len(__import__("os").sched_getaffinity(0)),
            "python": platform.python_version(), "torch": torch.__version__,
            "numpy": np.__version__, "arzip": __version__, "platform": platform.platform()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--model", default=None)
    parser.add_argument("--out", type=Path, default=Path("bench/results/text.json"))
    args = parser.parse_args()
    codecs, skipped = classical_codecs()
    coder_log: list[dict] = []
    codecs = {"arzip": arzip_codec(args.model, coder_log), **codecs}
    for name, why in skipped.items():
        print(f"skipped {name}: {why}", file=sys.stderr)
    files = sorted(p for folder in args.folders for p in folder.rglob("*") if p.is_file())
    rows = []
    for path in files:
        data = path.read_bytes()
        for name, (compress, decompress) in codecs.items():
            row = measure(name, compress, decompress, data)
            row.update(file=str(path), original=len(data))
            if name == "arzip":
                row.update(coder_log[-1])
            rows.append(row)
            print(f"{path.name:24} {name:14} {len(data):>9} -> {row['bytes']:>9} "
                  f"{8 * row['bytes'] / max(1, len(data)):6.3f} bits/byte "
                  f"{'ok' if row['ok'] else 'ROUND TRIP FAILED'}", file=sys.stderr, flush=True)
    totals = {}
    for name in codecs:
        mine = [r for r in rows if r["codec"] == name]
        raw = sum(r["original"] for r in mine)
        totals[name] = {
            "files": len(mine), "failed": sum(not r["ok"] for r in mine),
            "bits_per_byte": 8 * sum(r["bytes"] for r in mine if r["ok"]) / max(1, raw),
            "encode_kb_s": raw / 1000 / max(1e-9, sum(r["encode_s"] for r in mine)),
            "decode_kb_s": raw / 1000 / max(1e-9, sum(r["decode_s"] for r in mine))}
    print(f"\n{'codec':14} {'bits/byte':>9} {'enc KB/s':>9} {'dec KB/s':>9}")
    for name, t in totals.items():
        print(f"{name:14} {t['bits_per_byte']:9.3f} {t['encode_kb_s']:9.1f} "
              f"{t['decode_kb_s']:9.1f}" + (f"  ({t['failed']} FAILED)" if t["failed"] else ""))
    nll = sum(r.get("model_nll_bits", 0) for r in rows)
    coded = sum(r.get("model_coded_bits", 0) for r in rows)
    if nll:
        totals["arzip"]["model_nll_bits"], totals["arzip"]["model_coded_bits"] = nll, coded
        print(f"arzip model-coded blocks: NLL {nll:.0f} bits, coded {coded} bits "
              f"(coder overhead {100 * (coded / nll - 1):.3f}%)")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {"folders": [str(f) for f in args.folders], "machine": machine(),
              "skipped": skipped, "totals": totals, "files": rows, "peak_rss_mb": peak_mb}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print(f"\nwrote {args.out} (peak RSS {peak_mb:.0f} MB)")


if __name__ == "__main__":
    main()
