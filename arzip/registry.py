"""Stable string ids of the codecs -> the modules that implement them.

The core imports codecs only through this table, lazily, so `arzip` itself knows no
modality. A codec id is written into every .arz header and never changes meaning.
"""

from __future__ import annotations

import importlib
from typing import Any

from .errors import CodecError

CODECS = {
    "bytes": "arzip.codecs.text.codec:BytesCodec",
}


def codec_class(codec_id: str) -> Any:
    """The class implementing `codec_id`."""
    try:
        module, _, name = CODECS[codec_id].partition(":")
    except KeyError:
        raise CodecError(f"unknown codec '{codec_id}' (known: {', '.join(CODECS)})") from None
    return getattr(importlib.import_module(module), name)
