"""Context mixing alone (`codecs/text/cm.py`, no network): real coded sizes of the dev
text files against xz -9e, and its speed, one process, one thread.

    python bench/bench_cm.py [TEXT_DEV] [--json bench/results/cm.json]

This is the "context mixing alone" row of the text codec v2 ablation: the network is not
yet one of its inputs. Every file is decoded again and compared.
"""

from __future__ import annotations

import argparse
import json
import lzma
import time
from pathlib import Path

from arzip.benchmark import machine
from arzip.codecs.text import cm

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
ENGLISH = ("alice29.txt", "asyoulik.txt", "lcet10.txt", "plrabn12.txt")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("text_dev", nargs="?", default=str(SHARED / "text" / "dev"))
    parser.add_argument("--json", default=str(ROOT / "bench" / "results" / "cm.json"))
    args = parser.parse_args()
    cm.encode(b"warm up the compiled loops")
    rows = []
    for path in sorted(p for p in Path(args.text_dev).rglob("*") if p.is_file()):
        data = path.read_bytes()
        start = time.perf_counter()
        payload = cm.encode(data)
        encode_s = time.perf_counter() - start
        start = time.perf_counter()
        assert cm.decode(payload, len(data)) == data, path
        decode_s = time.perf_counter() - start
        xz = len(lzma.compress(data, preset=9 | lzma.PRESET_EXTREME))
        rows.append({"file": str(path.relative_to(args.text_dev)), "bytes": len(data),
                     "cm_bytes": len(payload), "xz_bytes": xz,
                     "cm_bits_per_byte": 8 * len(payload) / max(len(data), 1),
                     "vs_xz": len(payload) / xz, "encode_kb_s": len(data) / 1e3 / encode_s,
                     "decode_kb_s": len(data) / 1e3 / decode_s})
        print(rows[-1], flush=True)

    def total(selected: list[dict]) -> dict:
        n = sum(r["bytes"] for r in selected)
        c = sum(r["cm_bytes"] for r in selected)
        x = sum(r["xz_bytes"] for r in selected)
        return {"bytes": n, "cm_bits_per_byte": 8 * c / n, "xz_bits_per_byte": 8 * x / n,
                "vs_xz": c / x}

    result = {"machine": machine(), "files": rows,
              "english": total([r for r in rows if Path(r["file"]).name in ENGLISH]),
              "canterbury": total([r for r in rows if r["file"].startswith("canterbury/")])}
    Path(args.json).write_text(json.dumps(result, indent=1))
    print(json.dumps({k: result[k] for k in ("english", "canterbury")}, indent=1))


if __name__ == "__main__":
    main()
