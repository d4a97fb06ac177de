"""The classical competitors of the bytes codec for `arzip bench`: gzip -9, bzip2 -9,
xz -9e, zstd -19 and brotli -q 11 (the last two from their Python modules, else their
command-line tools, else listed as skipped)."""

from __future__ import annotations

import bz2
import gzip
import importlib
import lzma
import shutil
import subprocess

from arzip.benchmark import Contender, Content

UNIT = "byte"


def content(data: bytes) -> Content:
    """Any file is bytes: 8 raw bits each."""
    return Content(symbols=len(data), raw_bits=8 * len(data), value=bytes(data))


def _module(name: str):
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def _tool(name: str, encode: list[str], decode: list[str]) -> Contender:
    """A codec run as a command-line filter (stdin -> stdout)."""
    def run(args: list[str], data: bytes) -> bytes:
        return subprocess.run(args, input=data, capture_output=True, check=True).stdout
    return Contender(name, lambda data, _: run(encode, data), lambda blob, _: run(decode, blob))


def _zstd() -> Contender | str:
    zstandard = _module("zstandard")
    if zstandard:
        return Contender("zstd -19", lambda d, _: zstandard.ZstdCompressor(level=19).compress(d),
                         lambda b, _: zstandard.ZstdDecompressor().decompress(b))
    if shutil.which("zstd"):
        return _tool("zstd -19", ["zstd", "-19", "-q", "-c"], ["zstd", "-d", "-q", "-c"])
    return "neither the Python module zstandard nor the zstd tool is installed"


def _brotli() -> Contender | str:
    brotli = _module("brotli")
    if brotli:
        return Contender("brotli -q 11", lambda d, _: brotli.compress(d, quality=11),
                         lambda b, _: brotli.decompress(b))
    if shutil.which("brotli"):
        return _tool("brotli -q 11", ["brotli", "-q", "11", "-c"], ["brotli", "-d", "-c"])
    return "neither the Python module brotli nor the brotli tool is installed"


def contenders() -> tuple[list[Contender], dict[str, str]]:
    """(the available classical codecs, {codec: why it is skipped})."""
    found = [
        Contender("gzip -9", lambda d, _: gzip.compress(d, 9, mtime=0),
                  lambda b, _: gzip.decompress(b)),
        Contender("bzip2 -9", lambda d, _: bz2.compress(d, 9), lambda b, _: bz2.decompress(b)),
        Contender("xz -9e", lambda d, _: lzma.compress(d, preset=9 | lzma.PRESET_EXTREME),
                  lambda b, _: lzma.decompress(b)),
    ]
    skipped = {}
    for name, made in (("zstd -19", _zstd()), ("brotli -q 11", _brotli())):
        if isinstance(made, str):
            skipped[name] = made
        else:
            found.append(made)
    return found, skipped
