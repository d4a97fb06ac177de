"""The bundled default model: verified loading and a few real round trips."""

from __future__ import annotations

import dataclasses
import io
import lzma
from pathlib import Path

import pytest

from arzip import engine, zoo
from arzip.errors import ModelError

ROOT = Path(__file__).resolve().parents[1]


def round_trip(data: bytes) -> tuple[bytes, engine.Stats]:
    packed = io.BytesIO()
    stats = engine.compress_stream(io.BytesIO(data), packed)
    out = io.BytesIO()
    engine.decompress_stream(io.BytesIO(packed.getvalue()), out.write)
    assert out.getvalue() == data
    return packed.getvalue(), stats


def test_default_model_is_bundled_and_verified():
    info = zoo.default_model("bytes")
    exported = zoo.load_weights(info)
    assert exported["codec"] == "bytes" and exported["config"] == info.config
    tampered = dataclasses.replace(info, sha256="0" * 64)
    with pytest.raises(ModelError, match="does not match"):
        zoo.load_weights(tampered)


def test_real_text_round_trip_beats_xz():
    data = (ROOT / "docs" / "FORMAT.md").read_bytes()
    packed, stats = round_trip(data)
    assert stats.methods == {"model": 1}
    assert len(packed) < len(lzma.compress(data, preset=9 | lzma.PRESET_EXTREME))
    # coded bits are the model's ideal bits plus a small coder overhead
    assert stats.model_bits <= stats.model_coded_bits <= stats.model_bits * 1.01 + 64


def test_dev_file_round_trip(shared_data):
    data = (shared_data / "text" / "dev" / "canterbury" / "grammar.lsp").read_bytes()
    round_trip(data)
