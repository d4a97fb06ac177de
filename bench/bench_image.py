"""Benchmark the image codec against classical lossless image codecs on every image of some
folders.

Every codec's output is decoded again and compared with the original pixels (arzip: with
the original file bytes); a failed round trip is reported, never counted. Totals are
file bits / subpixels (height x width x channels). Usage:

    python bench/bench_image.py ../shared/data/image/dev [more folders]
        [--model SPEC] [-j 2] [--limit N] [--out bench/results/image.json]
"""

from __future__ import annotations

import argparse
import io
import json
import lzma
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_text import machine  # noqa: E402

from arzip import engine  # noqa: E402

SUFFIXES = {".png", ".ppm", ".pgm", ".bmp", ".tif", ".tiff"}


def pixels_of(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im)


def pillow_codec(fmt: str, **options):
    def compress(image: Image.Image) -> bytes:
        out = io.BytesIO()
        image.save(out, fmt, **options)
        return out.getvalue()
    return compress


def tool_codec(tool: str, args: list[str], suffix: str):
    """A command-line encoder writing `out` from a PNG `inp` (decoded back with Pillow)."""
    def compress(image: Image.Image) -> bytes:
        with tempfile.TemporaryDirectory() as tmp:
            inp, out = Path(tmp) / "in.png", Path(tmp) / f"out{suffix}"
            image.save(inp)
            subprocess.run([tool, *[a.format(inp=inp, out=out) for a in args]],
                           check=True, capture_output=True)
            return out.read_bytes()
    return compress


def classical_codecs() -> tuple[dict, dict]:
    codecs = {"png (Pillow optimize)": pillow_codec("PNG", optimize=True),
              "webp lossless m6": pillow_codec("WEBP", lossless=True, quality=100, method=6,
                                               exact=True)}
    skipped = {}
    tools = {"optipng -o5": ("optipng", ["-quiet", "-o5", "{inp}", "-out", "{out}"], ".png"),
             "jpeg-xl -e 7": ("cjxl", ["{inp}", "{out}", "-d", "0", "-e", "7"], ".jxl"),
             "jpeg-xl -e 9": ("cjxl", ["{inp}", "{out}", "-d", "0", "-e", "9"], ".jxl")}
    for name, (tool, args, suffix) in tools.items():
        if shutil.which(tool) and (tool != "cjxl" or shutil.which("djxl")):
            codecs[name] = tool_codec(tool, args, suffix)
        else:
            skipped[name] = f"{tool} not installed"
    return codecs, skipped


def decode_jxl(blob: bytes) -> np.ndarray:
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "a.jxl").write_bytes(blob)
        subprocess.run(["djxl", str(Path(tmp) / "a.jxl"), str(Path(tmp) / "a.png")],
                       check=True, capture_output=True)
        return pixels_of((Path(tmp) / "a.png").read_bytes())


def bench_file(path: str, model: str | None) -> list[dict]:
    data = Path(path).read_bytes()
    with Image.open(io.BytesIO(data)) as im:
        image = im.copy()
    original = np.asarray(image)
    subpixels = int(original.size)
    rows = []

    def row(name, blob, ok, enc, dec, **extra):
        rows.append({"file": path, "codec": name, "bytes": len(blob), "ok": bool(ok),
                     "subpixels": subpixels, "encode_s": enc, "decode_s": dec, **extra})

    t0 = time.perf_counter()
    packed = io.BytesIO()
    stats = engine.compress_stream(io.BytesIO(data), packed, model)
    t1 = time.perf_counter()
    out = io.BytesIO()
    engine.decompress_stream(io.BytesIO(packed.getvalue()), out.write)
    t2 = time.perf_counter()
    byte_exact = out.getvalue() == data  # else a PNG restored pixel-exact: compare pixels
    row("arzip", packed.getvalue(), byte_exact or np.array_equal(pixels_of(out.getvalue()),
                                                                 original),
        t1 - t0, t2 - t1, model_nll_bits=stats.model_bits,
        model_coded_bits=stats.model_coded_bits, arzip_codec=stats.codec,
        byte_exact=byte_exact)
    codecs, _ = classical_codecs()
    for name, compress in codecs.items():
        t0 = time.perf_counter()
        blob = compress(image)
        t1 = time.perf_counter()
        back = decode_jxl(blob) if name.startswith("jpeg-xl") else pixels_of(blob)
        t2 = time.perf_counter()
        row(name, blob, np.array_equal(back, original), t1 - t0, t2 - t1)
    raw = original.tobytes()
    t0 = time.perf_counter()
    blob = lzma.compress(raw, preset=9 | lzma.PRESET_EXTREME)
    t1 = time.perf_counter()
    row("xz -9e (raw pixels)", blob, lzma.decompress(blob) == raw, t1 - t0,
        time.perf_counter() - t1)
    for r in rows:
        print(f"{Path(path).name:36} {r['codec']:22} {8 * r['bytes'] / subpixels:6.3f} "
              f"bits/subpixel {r['encode_s']:6.2f}s {r['decode_s']:6.2f}s "
              f"{'ok' if r['ok'] else 'ROUND TRIP FAILED'}", file=sys.stderr, flush=True)
    return rows


def totals(rows: list[dict]) -> dict:
    out = {}
    for name in dict.fromkeys(r["codec"] for r in rows):
        mine = [r for r in rows if r["codec"] == name]
        sub = sum(r["subpixels"] for r in mine)
        out[name] = {"files": len(mine), "failed": sum(not r["ok"] for r in mine),
                     "bits_per_subpixel": 8 * sum(r["bytes"] for r in mine if r["ok"]) / sub,
                     "encode_s_per_image": sum(r["encode_s"] for r in mine) / len(mine),
                     "decode_s_per_image": sum(r["decode_s"] for r in mine) / len(mine)}
    arz = [r for r in rows if r["codec"] == "arzip" and r.get("model_coded_bits")]
    if arz:
        out["arzip"]["model_nll_bits"] = sum(r["model_nll_bits"] for r in arz)
        out["arzip"]["model_coded_bits"] = sum(r["model_coded_bits"] for r in arz)
        out["arzip"]["model_coded_files"] = len(arz)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--model", default=None)
    parser.add_argument("-j", "--jobs", type=int, default=1,
                        help="images benchmarked in parallel (each codec run is 1 thread)")
    parser.add_argument("--limit", type=int, default=0, help="only the first N images")
    parser.add_argument("--out", type=Path, default=Path("bench/results/image.json"))
    args = parser.parse_args()
    files = sorted(str(p) for folder in args.folders for p in folder.rglob("*")
                   if p.suffix.lower() in SUFFIXES)
    files = files[:args.limit] if args.limit else files
    _, skipped = classical_codecs()
    for name, why in skipped.items():
        print(f"skipped {name}: {why}", file=sys.stderr)
    with ProcessPoolExecutor(args.jobs) as pool:
        rows = [r for result in pool.map(bench_file, files, [args.model] * len(files))
                for r in result]
    summary = totals(rows)
    print(f"\n{'codec':24} {'bits/subpixel':>13} {'enc s/img':>9} {'dec s/img':>9}")
    for name, t in summary.items():
        print(f"{name:24} {t['bits_per_subpixel']:13.3f} {t['encode_s_per_image']:9.2f} "
              f"{t['decode_s_per_image']:9.2f}" + (f"  ({t['failed']} FAILED)"
                                                   if t["failed"] else ""))
    a = summary["arzip"]
    if "model_nll_bits" in a:
        print(f"arzip model-coded images: NLL {a['model_nll_bits']:.0f} bits, coded "
              f"{a['model_coded_bits']} bits (coder overhead "
              f"{100 * (a['model_coded_bits'] / a['model_nll_bits'] - 1):.3f}%)")
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    result = {"folders": [str(f) for f in args.folders], "machine": machine(),
              "jobs": args.jobs, "skipped": skipped, "totals": summary, "files": rows,
              "peak_rss_mb_per_worker": peak_mb}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
