"""Stable string ids of the codecs -> the modules that implement them.

The core imports codecs only through this table, lazily, so `arzip` itself knows no
modality. A codec id is written into every .arz header and never changes meaning.
"""

from __future__ import annotations

import importlib
from typing import Any

from .errors import CodecError
from .signals import held

CODECS = {
    "bytes": "arzip.codecs.text.codec:BytesCodec",
    "image": "arzip.codecs.image.codec:ImageCodec",
    "audio": "arzip.codecs.audio.codec:AudioCodec",
}
# codecs that code a whole file's structure (side data + model blocks) instead of a stream
# of byte blocks; the classes say the same (`structured = True`, checked by a test), but
# this table answers without importing a codec (and torch) for a file of stored blocks
STRUCTURED = frozenset({"image", "audio"})
# leading bytes of the files each structured codec may take (the codec has the last word)
MAGIC = [
    (b"\x89PNG\r\n\x1a\n", "image"),
    (b"P5", "image"), (b"P6", "image"),  # binary PGM / PPM
    (b"BM", "image"),
    (b"II*\x00", "image"), (b"MM\x00*", "image"),  # TIFF
    (b"RIFF", "audio"), (b"FORM", "audio"), (b"fLaC", "audio"),  # WAV, AIFF, FLAC
]
SNIFF_BYTES = 16
# already-compressed formats: the byte model cannot shrink them (until a model of their
# own exists), so their blocks skip it and go straight to the classical methods
COMPRESSED = [
    (b"\xff\xd8\xff", "JPEG"), (b"GIF87a", "GIF"), (b"GIF89a", "GIF"),
    (b"\xfd7zXZ\x00", "xz"), (b"(\xb5/\xfd", "zstd"), (b"7z\xbc\xaf\x27\x1c", "7z"),
    (b"Rar!\x1a\x07", "RAR"), (b"OggS\x00", "Ogg"), (b"\x1aE\xdf\xa3", "Matroska/WebM"),
]


def detect(head: bytes) -> str:
    """The codec id for a file starting with `head` ("bytes" unless a magic matches)."""
    return next((codec for magic, codec in MAGIC if head.startswith(magic)), "bytes")


def compressed_format(head: bytes) -> str | None:
    """The name of the already-compressed format a file starting with `head` has, if any
    (JPEG, GIF, xz, zstd, 7z, RAR, Ogg, Matroska/WebM, MP4/MOV, bzip2)."""
    name = next((name for magic, name in COMPRESSED if head.startswith(magic)), None)
    if name is None and head[4:8] == b"ftyp":
        name = "MP4/MOV"
    if name is None and head[:3] == b"BZh" and head[3:4].isdigit() and head[4:10] == b"1AY&SY":
        name = "bzip2"
    return name


def check_codec(codec_id: str) -> None:
    """Raise CodecError for an unknown codec id (without importing any codec)."""
    if codec_id not in CODECS:
        raise CodecError(f"unknown codec '{codec_id}' (known: {', '.join(CODECS)})")


def codec_class(codec_id: str) -> Any:
    """The class implementing `codec_id`."""
    try:
        module, _, name = CODECS[codec_id].partition(":")
    except KeyError:
        raise CodecError(f"unknown codec '{codec_id}' (known: {', '.join(CODECS)})") from None
    with held():  # a codec imports torch: never interrupted half-way
        return getattr(importlib.import_module(module), name)


def codec_module(codec_id: str, role: str) -> Any:
    """A codec's companion module, e.g. "baselines" (its classical competitors for
    `arzip bench`) or "surprise" (its likelihood map), from the codec's own folder."""
    check_codec(codec_id)
    package = CODECS[codec_id].partition(":")[0].rpartition(".")[0]
    with held():
        return importlib.import_module(f"{package}.{role}")
