"""The text codec v2 ablation on the dev text files: real coded sizes of context mixing
alone (block method 4), the network alone (its ideal bits: the cross-entropy of its integer
frequencies, lanes as coded), and both (method 5), against xz -9e; speeds of each, one
process.

    python bench/bench_cm.py [TEXT_DEV] [--json bench/results/cm.json] [--no-decode]

Every coded file is decoded again and compared (method 5 with the network stepping, as
`arzip decompress` does) unless --no-decode.
"""

from __future__ import annotations

import argparse
import json
import lzma
import time
from pathlib import Path

import numpy as np

from arzip import engine, zoo
from arzip.benchmark import machine
from arzip.codecs.text import cm

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
ENGLISH = ("alice29.txt", "asyoulik.txt", "lcet10.txt", "plrabn12.txt")


def network_bits(codec, data: bytes, lanes: int) -> float:
    """The network's ideal bits for `data` in `lanes` lanes (reports only); a byte the
    network gives frequency 0 counts as frequency 1, as a coder of it alone would need."""
    coder = cm.LaneCoder(len(data), lanes)
    raw = np.frombuffer(data, dtype=np.uint8).astype(np.int64)
    bits = 0.0
    for first, freqs in codec._teacher(raw, coder.starts, coder.lengths, None):
        last = min(coder.steps, first + freqs.shape[1])
        t = np.arange(first, last)
        pos = coder.starts[:, None] + t[None, :]
        inside = t[None, :] < coder.lengths[:, None]
        f = np.maximum(freqs[:, :last - first], 1).astype(np.float64)
        hit = np.take_along_axis(f, raw[np.minimum(pos, len(raw) - 1)][..., None], 2)[..., 0]
        bits += float(-np.log2(hit / f.sum(2))[inside].sum())
    return bits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("text_dev", nargs="?", default=str(SHARED / "text" / "dev"))
    parser.add_argument("--json", default=str(ROOT / "bench" / "results" / "cm.json"))
    parser.add_argument("--no-decode", action="store_true")
    args = parser.parse_args()
    codec = engine.load_codec("bytes", zoo.default_model("bytes"))
    cm.encode(b"warm up the compiled loops")
    codec.encode_cm_block(b"warm up")
    rows = []
    for path in sorted(p for p in Path(args.text_dev).rglob("*") if p.is_file()):
        data = path.read_bytes()
        row = {"file": str(path.relative_to(args.text_dev)), "bytes": len(data),
               "xz_bytes": len(lzma.compress(data, preset=9 | lzma.PRESET_EXTREME))}
        start = time.perf_counter()
        alone = cm.encode(data) or data
        row["cm_encode_kb_s"] = len(data) / 1e3 / (time.perf_counter() - start)
        start = time.perf_counter()
        lanes, both, _ = codec.encode_cm_block(data)
        row["netcm_encode_kb_s"] = len(data) / 1e3 / (time.perf_counter() - start)
        both = both or data
        row.update(cm_bytes=len(alone), netcm_bytes=len(both),
                   lanes=lanes, network_bits=network_bits(codec, data, lanes))
        if not args.no_decode:
            start = time.perf_counter()
            assert cm.decode(alone, len(data)) == data, path
            row["cm_decode_kb_s"] = len(data) / 1e3 / (time.perf_counter() - start)
            start = time.perf_counter()
            assert codec.decode_cm_block(both, len(data), lanes) == data, path
            row["netcm_decode_kb_s"] = len(data) / 1e3 / (time.perf_counter() - start)
        for key in ("cm", "netcm"):
            row[f"{key}_bits_per_byte"] = 8 * row[f"{key}_bytes"] / max(len(data), 1)
            row[f"{key}_vs_xz"] = row[f"{key}_bytes"] / row["xz_bytes"]
        row["network_bits_per_byte"] = row["network_bits"] / max(len(data), 1)
        rows.append(row)
        print(json.dumps(row), flush=True)

    def total(selected: list[dict]) -> dict:
        n = sum(r["bytes"] for r in selected)
        x = sum(r["xz_bytes"] for r in selected)
        out = {"bytes": n, "xz_bits_per_byte": 8 * x / n,
               "network_bits_per_byte": sum(r["network_bits"] for r in selected) / n,
               "network_vs_xz": sum(r["network_bits"] for r in selected) / 8 / x}
        for key in ("cm", "netcm"):
            c = sum(r[f"{key}_bytes"] for r in selected)
            out[f"{key}_bits_per_byte"] = 8 * c / n
            out[f"{key}_vs_xz"] = c / x
        return out

    result = {"machine": machine(), "files": rows,
              "english": total([r for r in rows if Path(r["file"]).name in ENGLISH]),
              "canterbury": total([r for r in rows if r["file"].startswith("canterbury/")]),
              "canterbury_artificial": total([r for r in rows if r["file"].startswith(
                  "canterbury_artificial/")])}
    Path(args.json).write_text(json.dumps(result, indent=1))
    print(json.dumps({k: result[k] for k in ("english", "canterbury")}, indent=1))


if __name__ == "__main__":
    main()
