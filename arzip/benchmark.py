"""`arzip bench`: arzip next to the classical codecs of each file's kind, every result
decoded again and compared with the original.

A file's kind is the codec arzip picks for it (bytes, image, audio). The kind's companion
module `baselines` (in the codec's folder) says what the file's symbols are (bytes,
subpixels, samples), how many raw bits they take, and which classical codecs compete. A
result counts only when its decoded output equals the original (arzip: the same file
bytes, or the same content where arzip restores pixel- or sample-exact); a failed round
trip is a failure, never a number. Totals are file bits / symbols over the files a codec
got right. This module knows no modality.
"""

from __future__ import annotations

import csv
import io
import multiprocessing
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__, engine
from .errors import ArzipError
from .registry import CODECS, SNIFF_BYTES, codec_module, detect

ARZIP = "arzip"


@dataclass
class Content:
    """What a file holds, as the classical codecs of its kind see it."""

    symbols: int  # bytes, subpixels or samples
    raw_bits: int  # bits of the symbols uncompressed (8 a byte, 16 a 16-bit sample, ...)
    value: Any  # what a decoder must give back: bytes or an array
    meta: dict = field(default_factory=dict)  # e.g. sample rate, image mode


@dataclass(frozen=True)
class Contender:
    """A classical codec: encode(file bytes, content) -> blob, decode(blob, content) ->
    something `same` compares with `content.value`."""

    name: str
    encode: Callable[[bytes, Content], bytes]
    decode: Callable[[bytes, Content], Any]


def run_tool(args: list[str], data: bytes, in_suffix: str, out_suffix: str) -> bytes:
    """What a command-line codec writes to {out} given `data` as {inp} (temporary files
    with these suffixes; "{inp}" and "{out}" in `args` are replaced by their paths)."""
    with tempfile.TemporaryDirectory() as tmp:
        inp, out = Path(tmp) / f"in{in_suffix}", Path(tmp) / f"out{out_suffix}"
        inp.write_bytes(data)
        subprocess.run([a.format(inp=inp, out=out) for a in args], check=True,
                       capture_output=True)
        return out.read_bytes()


def arzip_seconds(*args: str) -> float:
    """Wall time of one `arzip` command in a fresh process (start-up included)."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "arzip.cli", *args], check=True)
    return time.perf_counter() - start


def same(a: Any, b: Any) -> bool:
    """Whether two decoded contents are identical (bytes, or arrays of equal shape)."""
    if isinstance(a, bytes | bytearray) or isinstance(b, bytes | bytearray):
        return bytes(a) == bytes(b)
    return isinstance(b, np.ndarray) and a.shape == b.shape and np.array_equal(a, b)


def baselines(kind: str):
    """The `baselines` module of a codec (classical contenders and content of a file)."""
    return codec_module(kind, "baselines")


def classify(data: bytes) -> tuple[str, Content]:
    """The kind of a file and its content; a file its detected kind cannot read is bytes."""
    kind = detect(data[:SNIFF_BYTES])
    if kind != "bytes":
        content = baselines(kind).content(data)
        if content is not None:
            return kind, content
    return "bytes", baselines("bytes").content(data)


def skipped_codecs() -> dict[str, dict[str, str]]:
    """kind -> {codec: why it is not measured here}."""
    return {kind: baselines(kind).contenders()[1] for kind in CODECS}


def list_files(paths: list[str]) -> list[str]:
    """The regular files among `paths`, folders searched recursively, sorted."""
    files: list[str] = []
    for path in paths:
        p = Path(path)
        if p.is_dir():
            files += sorted(str(f) for f in p.rglob("*") if f.is_file() and not f.is_symlink())
        else:
            files.append(path)
    return files


def _timed(call: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    out = call()
    return out, time.perf_counter() - start


def _arzip_row(data: bytes, content: Content, kind: str, model: str | None) -> dict:
    packed = io.BytesIO()
    stats, enc = _timed(lambda: engine.compress_stream(io.BytesIO(data), packed, model))
    blob, restored = packed.getvalue(), io.BytesIO()
    _, dec = _timed(lambda: engine.decompress_stream(io.BytesIO(blob), restored.write))
    byte_exact = restored.getvalue() == data
    if byte_exact:
        ok = True
    else:  # a PNG restored pixel-exact, a FLAC sample-exact: compare the content
        back = baselines(kind).content(restored.getvalue())
        ok = back is not None and same(content.value, back.value)
    return {"codec": ARZIP, "bytes": len(blob), "ok": ok, "encode_s": enc,
            "decode_s": dec, "error": "" if ok else "decoded content differs",
            "model": stats.model, "arzip_codec": stats.codec, "byte_exact": byte_exact,
            "model_nll_bits": stats.model_bits, "model_coded_bits": stats.model_coded_bits}


def _failed_row(codec: str, error: str = "") -> dict:
    """A result that has no size (yet): the codec failed before writing anything."""
    return {"codec": codec, "bytes": 0, "ok": False, "encode_s": 0.0, "decode_s": 0.0,
            "error": error}


def _classical_row(contender: Contender, data: bytes, content: Content) -> dict:
    row = _failed_row(contender.name)
    try:
        blob, row["encode_s"] = _timed(lambda: contender.encode(data, content))
        row["bytes"] = len(blob)
        back, row["decode_s"] = _timed(lambda: contender.decode(blob, content))
        row["ok"] = same(content.value, back)
        row["error"] = "" if row["ok"] else "decoded content differs"
    except Exception as exc:  # noqa: BLE001 - any codec failure is a reported result
        row["error"] = f"{type(exc).__name__}: {exc}".strip()[:200]
    return row


def bench_file(path: str, model: str | None = None) -> list[dict]:
    """One row per codec for the file at `path`: size, verified round trip, times."""
    data = Path(path).read_bytes()
    kind, content = classify(data)
    try:
        rows = [_arzip_row(data, content, kind, model)]
    except (ArzipError, OSError) as exc:  # reported with the file, the run goes on
        rows = [_failed_row(ARZIP, str(exc))]
    rows += [_classical_row(c, data, content) for c in baselines(kind).contenders()[0]]
    for row in rows:
        row.update(file=path, kind=kind, symbols=content.symbols, raw_bits=content.raw_bits,
                   original_bytes=len(data))
    return rows


def run(files: list[str], jobs: int = 1, model: str | None = None) -> Iterator[list[dict]]:
    """The rows of every file, yielded file by file as they finish (`jobs` processes)."""
    if jobs <= 1:
        for path in files:
            yield bench_file(path, model)
        return
    # fresh interpreters: a fork of a process whose torch threads ran can deadlock; each
    # file's coding gets one thread (the files run in parallel): the workers inherit it
    before = os.environ.get("ARZIP_THREADS")
    os.environ["ARZIP_THREADS"] = "1"
    try:
        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = [pool.submit(bench_file, path, model) for path in files]
            for future in as_completed(futures):
                yield future.result()
    finally:
        if before is None:
            del os.environ["ARZIP_THREADS"]
        else:
            os.environ["ARZIP_THREADS"] = before


def in_order(rows: list[dict], files: list[str]) -> list[dict]:
    """`rows` sorted by the order of `files` (processes finish in any order)."""
    rank = {path: i for i, path in enumerate(files)}
    return sorted(rows, key=lambda r: rank.get(r["file"], len(rank)))


def summarise(rows: list[dict]) -> dict[str, dict[str, dict]]:
    """kind -> codec -> totals over the files that codec decoded correctly."""
    out: dict[str, dict[str, dict]] = {}
    for kind in (k for k in CODECS if any(r["kind"] == k for r in rows)):
        out[kind] = {}
        for codec in dict.fromkeys(r["codec"] for r in rows if r["kind"] == kind):
            mine = [r for r in rows if r["kind"] == kind and r["codec"] == codec]
            out[kind][codec] = _totals(mine)
    return out


def _totals(rows: list[dict]) -> dict:
    good = [r for r in rows if r["ok"]]
    symbols = sum(r["symbols"] for r in good)
    bits = 8 * sum(r["bytes"] for r in good)
    enc, dec = sum(r["encode_s"] for r in good), sum(r["decode_s"] for r in good)
    totals = {"files": len(rows), "failed": len(rows) - len(good), "symbols": symbols,
              "bytes": bits // 8, "bits_per_symbol": bits / symbols if symbols else None,
              "percent_of_raw": 100 * bits / max(1, sum(r["raw_bits"] for r in good)),
              "encode_symbols_per_s": symbols / enc if enc else None,
              "decode_symbols_per_s": symbols / dec if dec else None}
    models = sorted({r["model"] for r in rows if r.get("model")})
    if models:
        totals["model"] = ", ".join(models)
    coded = [r for r in good if r.get("model_coded_bits")]
    if coded:  # files (or blocks) the model coded, not stored classically
        totals["model_coded_files"] = len(coded)
        totals["model_nll_bits"] = sum(r["model_nll_bits"] for r in coded)
        totals["model_coded_bits"] = sum(r["model_coded_bits"] for r in coded)
    return totals


def units() -> dict[str, str]:
    """kind -> the name of its symbol."""
    return {kind: baselines(kind).UNIT for kind in CODECS}


def machine() -> dict:
    """The machine and library versions a benchmark ran with."""
    import torch  # noqa: PLC0415 - only a benchmark needs the version

    cpu = platform.processor()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in
                   Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu, "cores": len(os.sched_getaffinity(0)), "python":
            platform.python_version(), "torch": torch.__version__, "numpy": np.__version__,
            "arzip": __version__, "platform": platform.platform()}


def report(summary: dict, skipped: dict[str, dict[str, str]]) -> str:
    """The totals as a plain-text table per kind."""
    lines, names = [], units()
    for kind, codecs in summary.items():
        unit = names[kind]
        first = next(iter(codecs.values()))
        lines.append(f"{kind}: {first['files']} file(s), {first['symbols']:,} {unit}s; "
                     f"speed in thousands of {unit}s/s")
        lines.append(f"  {'codec':34} {f'bits/{unit}':>14} {'% of raw':>9} "
                     f"{'encode':>9} {'decode':>9}")
        for codec, t in codecs.items():
            name = f"{codec} ({t['model']})" if "model" in t else codec
            failed = f"  {t['failed']} FAILED" if t["failed"] else ""
            lines.append(f"  {name[:34]:34} {_num(t['bits_per_symbol'], 3):>14} "
                         f"{_num(t['percent_of_raw'], 2):>9} "
                         f"{_num(_k(t['encode_symbols_per_s']), 1):>9} "
                         f"{_num(_k(t['decode_symbols_per_s']), 1):>9}{failed}")
        arz = codecs.get(ARZIP, {})
        if arz.get("model_nll_bits"):
            extra = 100 * (arz["model_coded_bits"] / arz["model_nll_bits"] - 1)
            lines.append(f"  arzip model-coded: NLL {arz['model_nll_bits']:.0f} bits, coded "
                         f"{arz['model_coded_bits']} bits ({extra:+.3f}%)")
        for codec, why in skipped.get(kind, {}).items():
            lines.append(f"  skipped {codec}: {why}")
        lines.append("")
    return "\n".join(lines)


def _k(value: float | None) -> float | None:
    return None if value is None else value / 1000


def _num(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


CSV_FIELDS = ["file", "kind", "codec", "ok", "error", "original_bytes", "bytes", "symbols",
              "raw_bits", "encode_s", "decode_s", "model", "model_nll_bits",
              "model_coded_bits", "byte_exact"]


def write_csv(rows: list[dict], path: str) -> None:
    """One line per file and codec."""
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, CSV_FIELDS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
