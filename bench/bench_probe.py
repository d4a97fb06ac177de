"""Early block decisions (`engine.incompressible`, the model probe): what they cost and save.

    python bench/bench_probe.py [TEXT_DEV] [--json bench/results/probe.json]

1. 1 MB of random bytes through `arzip compress` and `arzip decompress` (separate
   processes, wall time including start-up).
2. A folder of JPEG photos (made here from 24 dev PNGs enlarged 3x, Pillow quality 92):
   the compress throughput (one `arzip compress` of the folder, wall time with the
   start-up, and the time after start-up) and the output size against the input.
3. Every block of the dev text files: whether the probe would skip the model, the best
   classical size, the model's real size, and the time of the probe and of the model;
   from these, how much the probe changes the total size and how much model time it saves.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from PIL import Image

from arzip import engine, zoo
from arzip.benchmark import arzip_seconds, machine

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


cli = arzip_seconds


def random_file(tmp: Path) -> dict:
    path = tmp / "rnd.bin"
    path.write_bytes(os.urandom(1 << 20))
    compress = cli("compress", "-q", str(path))
    decompress = cli("decompress", "-q", "-f", "-o", str(tmp / "rnd.out"), str(path) + ".arz")
    assert (tmp / "rnd.out").read_bytes() == path.read_bytes()
    return {"bytes": 1 << 20, "compress_s": compress, "decompress_s": decompress,
            "archive_bytes": (tmp / "rnd.bin.arz").stat().st_size}


def jpeg_folder(tmp: Path, count: int = 24) -> dict:
    folder = tmp / "jpeg"
    folder.mkdir()
    pngs = sorted((SHARED / "image" / "dev").rglob("*.png"))[:count]
    for png in pngs:  # enlarged 3x: camera-sized photos of about 2-3 megapixels
        image = Image.open(png).convert("RGB")
        image = image.resize((3 * image.width, 3 * image.height), Image.Resampling.LANCZOS)
        image.save(folder / (png.stem + ".jpg"), quality=92)
    files = sorted(folder.iterdir())
    size = sum(f.stat().st_size for f in files)
    seconds = cli("compress", "-q", *map(str, files))
    start_up = min(cli("--version") for _ in range(3))
    out = sum((folder / (f.name + ".arz")).stat().st_size for f in files)
    return {"files": len(files), "bytes": size, "compress_s": seconds,
            "mb_per_s": size / 1e6 / seconds, "start_up_s": start_up,
            "mb_per_s_after_start_up": size / 1e6 / (seconds - start_up),
            "archive_bytes": out, "overhead_bytes_per_file": (out - size) / len(files)}


def text_blocks(root: Path) -> dict:
    codec = engine.load_codec("bytes", zoo.default_model("bytes"))
    rows = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        for start in range(0, len(data), engine.BLOCK_SIZE):
            block = data[start:start + engine.BLOCK_SIZE]
            classical = min(len(c[1]) for c in engine._classical(block))
            t0 = time.perf_counter()
            sample = engine.probe_sample(block)
            probe = 8 * len(codec.encode_block(sample)[1]) / len(sample) if sample else None
            t1 = time.perf_counter()
            model = len(codec.encode_block(block)[1])
            t2 = time.perf_counter()
            skip = engine.incompressible(block) or (
                probe is not None and probe > engine.PROBE_MARGIN * 8 * classical / len(block))
            rows.append({"file": str(path.relative_to(root)), "start": start,
                         "bytes": len(block), "classical": classical, "model": model,
                         "probe_bits_per_byte": probe, "skip_model": skip,
                         "probe_s": t1 - t0, "model_s": t2 - t1})
    best = sum(min(r["classical"], r["model"]) for r in rows)
    chosen = sum(r["classical"] if r["skip_model"] else min(r["classical"], r["model"])
                 for r in rows)
    return {"blocks": rows, "size_without_probe": best, "size_with_probe": chosen,
            "size_change_percent": 100 * (chosen / best - 1),
            "wrong_skips": sum(r["skip_model"] and r["model"] < r["classical"] for r in rows),
            "model_s_saved": sum(r["model_s"] for r in rows if r["skip_model"]),
            "probe_s": sum(r["probe_s"] for r in rows),
            "model_s_total": sum(r["model_s"] for r in rows)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("text_dev", nargs="?", default=str(SHARED / "text" / "dev"))
    parser.add_argument("--json", default=str(ROOT / "bench" / "results" / "probe.json"))
    parser.add_argument("--skip-text", action="store_true",
                        help="only the random and JPEG parts (keeps the stored text figures)")
    args = parser.parse_args()
    os.environ.setdefault("ARZIP_THREADS", "1")
    out = Path(args.json)
    with tempfile.TemporaryDirectory() as tmp:
        result = {"machine": machine(), "random_1mb": random_file(Path(tmp)),
                  "jpeg": jpeg_folder(Path(tmp))}
        if args.skip_text and out.exists():
            result["text_dev"] = json.loads(out.read_text())["text_dev"]
        else:
            result["text_dev"] = text_blocks(Path(args.text_dev))
    out.write_text(json.dumps(result, indent=1))
    summary = {k: v for k, v in result["text_dev"].items() if k != "blocks"}
    print(json.dumps({"random_1mb": result["random_1mb"], "jpeg": result["jpeg"],
                      "text_dev": summary}, indent=1))


if __name__ == "__main__":
    main()
