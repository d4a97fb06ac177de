"""Opened deflate streams: a .tar.gz and .zip of the dev Canterbury texts against the plain
.tar, and a gzip stream zlib cannot re-create.

    python bench/bench_deflate.py [CANTERBURY_DIR] [--json bench/results/deflate.json]

The tar is made with Python's tarfile (sorted names, zero times and owners: the same bytes
on every run); the .tar.gz with GNU `gzip -9 -n` (not zlib: its block ends differ), the
.zip with Python's zipfile (zlib level 9) and, when installed, Info-ZIP `zip -9 -X`. Each
is compressed and decompressed by the `arzip` command (wall time, separate processes) and
checked byte for byte.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import zipfile
import zlib
from pathlib import Path

import numpy as np

from arzip import deflate, opened
from arzip import deflate_kernels as K
from arzip.benchmark import arzip_seconds, machine

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


cli = arzip_seconds


def make_tar(files: list[Path], out: Path) -> None:
    with tarfile.open(out, "w", format=tarfile.USTAR_FORMAT) as tar:
        for path in files:
            info = tarfile.TarInfo(path.name)
            info.size, info.mtime, info.mode = path.stat().st_size, 0, 0o644
            tar.addfile(info, io.BytesIO(path.read_bytes()))


def literal_only_gzip(content: bytes) -> bytes:
    """A valid gzip member no zlib setting makes: every position a literal, fixed codes."""
    stream = deflate.deflate(content, (9, -15, 8, 0))
    parsed = deflate.parse(stream, len(content))
    blocks = np.array([[1, 1, len(content), 0, 0, 0]], dtype=np.int64)
    none = np.zeros(0, dtype=np.int32)
    raw = deflate.write(deflate.Parsed(parsed.content, none, none, none, blocks,
                                       np.zeros(1, dtype=np.uint8), 0, 0))
    assert K.B_COLUMNS == blocks.shape[1]
    trailer = (len(content) & 0xFFFFFFFF).to_bytes(4, "little")
    crc = zlib.crc32(content).to_bytes(4, "little")
    return b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + raw + crc + trailer


def measure(path: Path) -> dict:
    compress = cli("compress", "-q", "-f", "-k", str(path))
    archive = Path(str(path) + ".arz")
    back = path.with_name(path.name + ".back")
    decompress = cli("decompress", "-q", "-f", "-o", str(back), str(archive))
    assert back.read_bytes() == path.read_bytes(), path
    data = path.read_bytes()
    return {"bytes": len(data), "archive_bytes": archive.stat().st_size,
            "format_version": archive.read_bytes()[4], "compress_s": compress,
            "decompress_s": decompress,
            "streams_opened": len(opened.open_streams(data))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default=str(SHARED / "text" / "dev" / "canterbury"))
    parser.add_argument("--json", default=str(ROOT / "bench" / "results" / "deflate.json"))
    args = parser.parse_args()
    os.environ.setdefault("ARZIP_THREADS", "1")
    files = sorted(p for p in Path(args.folder).iterdir() if p.is_file())
    result: dict = {"machine": machine()}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        make_tar(files, tmp / "cant.tar")
        subprocess.run(["gzip", "-9", "-n", "-k", str(tmp / "cant.tar")], check=True)
        with zipfile.ZipFile(tmp / "cant.zip", "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
            for path in files:
                z.writestr(zipfile.ZipInfo(path.name, (1980, 1, 1, 0, 0, 0)),
                           path.read_bytes(), zipfile.ZIP_DEFLATED, 9)
        inputs = {"tar": tmp / "cant.tar", "tar.gz (gzip -9)": tmp / "cant.tar.gz",
                  "zip (zipfile, zlib 9)": tmp / "cant.zip"}
        if shutil.which("zip"):
            subprocess.run(["zip", "-9", "-X", "-q", "-j", str(tmp / "infozip.zip"),
                            *map(str, files)], check=True)
            inputs["zip (Info-ZIP -9)"] = tmp / "infozip.zip"
        odd = tmp / "literal_only.gz"
        odd.write_bytes(literal_only_gzip((files[0]).read_bytes()))
        inputs["gzip stream zlib cannot re-create"] = odd
        for name, path in inputs.items():
            result[name] = measure(path)
            print(name, result[name], flush=True)
    tar = result["tar"]["archive_bytes"]
    for name in inputs:
        result[name]["vs_plain_tar"] = result[name]["archive_bytes"] / tar
    Path(args.json).write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
