"""In-memory compress/decompress through the engine, for the codec tests."""

from __future__ import annotations

import io

from arzip import engine


def compress(data: bytes, model: str | None, fallback: bool = False) -> tuple[bytes, engine.Stats]:
    out = io.BytesIO()
    stats = engine.compress_stream(io.BytesIO(data), out, model, classical_fallback=fallback)
    return out.getvalue(), stats


def decompress(packed: bytes, model: str | None = None) -> bytes:
    out = io.BytesIO()
    engine.decompress_stream(io.BytesIO(packed), out.write, model)
    return out.getvalue()
