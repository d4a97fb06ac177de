"""Benchmark the audio codec against classical lossless audio codecs on every audio file of
some folders.

Every codec's output is decoded again and compared with the original samples (arzip: with
the original file bytes); a failed round trip is reported, never counted. Totals are file
bits / samples (frames x channels), per folder and over everything; speed is samples/s
and x real time of each codec's encode and decode. FLAC -8 is the flac CLI when it is
installed, else libsndfile's FLAC writer at its highest compression level (the JSON and
the table say which); WavPack -hhx needs the wavpack CLI. Usage:

    python bench/bench_audio.py ../shared/data/audio/dev [more folders]
        [--model SPEC] [-j 2] [--limit N] [--out bench/results/audio.json]
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
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_text import machine  # noqa: E402

from arzip import engine  # noqa: E402

SUFFIXES = {".wav", ".flac", ".aif", ".aiff"}


def samples_of(data: bytes) -> np.ndarray:
    return sf.read(io.BytesIO(data), dtype="int16", always_2d=True)[0]


def tool_round_trip(tool: str, enc: list[str], dec: list[str], suffix: str, wav: bytes
                    ) -> tuple[bytes, bytes, float, float]:
    """(encoded, decoded WAV, encode s, decode s) of a command-line codec."""
    with tempfile.TemporaryDirectory() as tmp:
        inp, out, back = Path(tmp) / "in.wav", Path(tmp) / f"out{suffix}", Path(tmp) / "b.wav"
        inp.write_bytes(wav)
        t0 = time.perf_counter()
        subprocess.run([tool, *[a.format(inp=inp, out=out) for a in enc]], check=True,
                       capture_output=True)
        t1 = time.perf_counter()
        subprocess.run([dec[0], *[a.format(inp=out, out=back) for a in dec[1:]]], check=True,
                       capture_output=True)
        return out.read_bytes(), back.read_bytes(), t1 - t0, time.perf_counter() - t1


def flac_name() -> str:
    return "flac -8" if shutil.which("flac") else "flac -8 (libsndfile level 1.0)"


def classical(samples: np.ndarray, rate: int, wav: bytes) -> list[tuple]:
    """(name, blob, decoded samples, encode s, decode s) for each available classical codec."""
    out = []
    if shutil.which("flac"):
        blob, back, enc, dec = tool_round_trip(
            "flac", ["-8", "--no-padding", "-s", "-f", "-o", "{out}", "{inp}"],
            ["flac", "-d", "-s", "-f", "-o", "{out}", "{inp}"], ".flac", wav)
        out.append(("flac -8", blob, samples_of(back), enc, dec))
    else:
        t0 = time.perf_counter()
        buffer = io.BytesIO()
        sf.write(buffer, samples, rate, format="FLAC", subtype="PCM_16", compression_level=1.0)
        t1 = time.perf_counter()
        back = samples_of(buffer.getvalue())
        out.append((flac_name(), buffer.getvalue(), back, t1 - t0, time.perf_counter() - t1))
    if shutil.which("wavpack") and shutil.which("wvunpack"):
        blob, back, enc, dec = tool_round_trip(
            "wavpack", ["-hhx", "-q", "-y", "{inp}", "-o", "{out}"],
            ["wvunpack", "-q", "-y", "{inp}", "-o", "{out}"], ".wv", wav)
        out.append(("wavpack -hhx", blob, samples_of(back), enc, dec))
    raw = samples.astype("<i2").tobytes()
    t0 = time.perf_counter()
    blob = lzma.compress(raw, preset=9 | lzma.PRESET_EXTREME)
    t1 = time.perf_counter()
    back = np.frombuffer(lzma.decompress(blob), "<i2").reshape(samples.shape)
    out.append(("xz -9e (raw PCM)", blob, back, t1 - t0, time.perf_counter() - t1))
    return out


def skipped_codecs() -> dict:
    skipped = {}
    if not shutil.which("flac"):
        skipped["flac CLI"] = "not installed: FLAC -8 measured with libsndfile's encoder"
    if not (shutil.which("wavpack") and shutil.which("wvunpack")):
        skipped["wavpack -hhx"] = "wavpack not installed"
    return skipped


def bench_file(path: str, model: str | None) -> list[dict]:
    data = Path(path).read_bytes()
    samples, rate = sf.read(io.BytesIO(data), dtype="int16", always_2d=True)
    count, seconds = int(samples.size), len(samples) / rate
    rows = []

    def row(name, blob, ok, enc, dec, **extra):
        rows.append({"file": path, "codec": name, "bytes": len(blob), "ok": bool(ok),
                     "samples": count, "seconds": seconds, "encode_s": enc, "decode_s": dec,
                     **extra})

    t0 = time.perf_counter()
    packed = io.BytesIO()
    stats = engine.compress_stream(io.BytesIO(data), packed, model)
    t1 = time.perf_counter()
    out = io.BytesIO()
    engine.decompress_stream(io.BytesIO(packed.getvalue()), out.write)
    t2 = time.perf_counter()
    byte_exact = out.getvalue() == data  # else (FLAC) compare the samples
    row("arzip", packed.getvalue(),
        byte_exact or np.array_equal(samples_of(out.getvalue()), samples), t1 - t0, t2 - t1,
        model_nll_bits=stats.model_bits, model_coded_bits=stats.model_coded_bits,
        arzip_codec=stats.codec, byte_exact=byte_exact)
    wav = io.BytesIO()
    sf.write(wav, samples, rate, format="WAV", subtype="PCM_16")
    for name, blob, back, enc, dec in classical(samples, rate, wav.getvalue()):
        row(name, blob, np.array_equal(back, samples), enc, dec)
    for r in rows:
        print(f"{Path(path).name:28} {r['codec']:30} {8 * r['bytes'] / count:6.3f} bits/sample "
              f"{r['encode_s']:6.2f}s {r['decode_s']:6.2f}s "
              f"{'ok' if r['ok'] else 'ROUND TRIP FAILED'}", file=sys.stderr, flush=True)
    return rows


def summarise(rows: list[dict]) -> dict:
    out = {}
    for name in dict.fromkeys(r["codec"] for r in rows):
        mine = [r for r in rows if r["codec"] == name]
        samples, seconds = sum(r["samples"] for r in mine), sum(r["seconds"] for r in mine)
        enc, dec = sum(r["encode_s"] for r in mine), sum(r["decode_s"] for r in mine)
        out[name] = {"files": len(mine), "failed": sum(not r["ok"] for r in mine),
                     "samples": samples,
                     "bits_per_sample": 8 * sum(r["bytes"] for r in mine if r["ok"]) / samples,
                     "encode_samples_per_s": samples / enc, "decode_samples_per_s": samples / dec,
                     "encode_x_realtime": seconds / enc, "decode_x_realtime": seconds / dec}
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
                        help="files benchmarked in parallel (each codec run is 1 thread)")
    parser.add_argument("--limit", type=int, default=0, help="only the first N files a folder")
    parser.add_argument("--out", type=Path, default=Path("bench/results/audio.json"))
    args = parser.parse_args()
    files = []
    for folder in args.folders:
        found = sorted(str(p) for p in folder.rglob("*") if p.suffix.lower() in SUFFIXES)
        files += found[:args.limit] if args.limit else found
    skipped = skipped_codecs()
    for name, why in skipped.items():
        print(f"skipped {name}: {why}", file=sys.stderr)
    with ProcessPoolExecutor(args.jobs) as pool:
        rows = [r for result in pool.map(bench_file, files, [args.model] * len(files))
                for r in result]
    groups = {"total": rows}
    for folder in sorted({str(Path(r["file"]).parent) for r in rows}):
        groups[Path(folder).name] = [r for r in rows if str(Path(r["file"]).parent) == folder]
    summary = {group: summarise(mine) for group, mine in groups.items()}
    for group, totals in summary.items():
        print(f"\n{group}\n{'codec':32} {'bits/sample':>11} {'enc kS/s':>9} {'dec kS/s':>9}")
        for name, t in totals.items():
            print(f"{name:32} {t['bits_per_sample']:11.3f} "
                  f"{t['encode_samples_per_s'] / 1000:9.1f} {t['decode_samples_per_s'] / 1000:9.1f}"
                  + (f"  ({t['failed']} FAILED)" if t["failed"] else ""))
    a = summary["total"]["arzip"]
    if "model_nll_bits" in a:
        print(f"\narzip model-coded files: NLL {a['model_nll_bits']:.0f} bits, coded "
              f"{a['model_coded_bits']} bits (coder overhead "
              f"{100 * (a['model_coded_bits'] / a['model_nll_bits'] - 1):.3f}%)")
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    result = {"folders": [str(f) for f in args.folders], "machine": machine(),
              "jobs": args.jobs, "flac": flac_name(), "skipped": skipped, "totals": summary,
              "files": rows, "peak_rss_mb_per_worker": peak_mb}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
