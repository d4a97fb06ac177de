"""Early block decisions: random-looking data is stored without the model, and a model
probe keeps the model off blocks that a classical method codes far smaller."""

from __future__ import annotations

import io
import os

import pytest

from arzip import engine


def compress(data: bytes, model: str) -> tuple[bytes, engine.Stats]:
    out = io.BytesIO()
    stats = engine.compress_stream(io.BytesIO(data), out, model)
    return out.getvalue(), stats


def decompress(blob: bytes, model: str) -> bytes:
    out = io.BytesIO()
    engine.decompress_stream(io.BytesIO(blob), out.write, model)
    return out.getvalue()


def test_incompressible_needs_a_flat_histogram_and_nothing_for_zlib():
    assert engine.incompressible(os.urandom(1 << 16))
    assert not engine.incompressible(bytes(range(256)) * 256)  # flat, but zlib finds it
    assert not engine.incompressible(b"plain English text, not random at all. " * 2000)
    assert not engine.incompressible(os.urandom(1000))  # too short to judge


def test_random_blocks_are_stored_without_running_the_model(tiny_model, monkeypatch):
    data = os.urandom(300_000)
    calls = []
    real = engine.load_codec

    def counting(*args, **kwargs):
        codec = real(*args, **kwargs)
        encode = codec.encode_block
        codec.encode_block = lambda *a, **k: calls.append(len(a[0])) or encode(*a, **k)
        return codec

    monkeypatch.setattr(engine, "load_codec", counting)
    blob, stats = compress(data, tiny_model)
    assert calls == [] and stats.methods == {"stored": 1}
    assert stats.decisions == [f"stored {len(data)} bytes (stored: incompressible)"]
    assert decompress(blob, tiny_model) == data


def test_the_probe_keeps_the_model_off_a_block_lzma_codes_far_smaller(tiny_model):
    data = b"abcabd" * 20_000  # 120 KB: lzma codes it in a few hundred bytes
    blob, stats = compress(data, tiny_model)
    assert stats.methods in ({"lzma": 1}, {"cm": 1})  # context mixing codes it small too
    assert "model probe" in stats.decisions[0]
    assert decompress(blob, tiny_model) == data


def test_short_blocks_run_the_model_without_a_probe(tiny_model):
    assert engine.probe_sample(b"x" * (engine.PROBE_MIN - 1)) is None
    sample = engine.probe_sample(bytes(range(256)) * 1024)
    assert len(sample) == engine.PROBE_SLICES * engine.PROBE_SLICE


def test_the_registry_knows_which_codecs_are_structured():
    from arzip import registry

    for codec_id in registry.CODECS:
        cls = registry.codec_class(codec_id)
        assert bool(getattr(cls, "structured", False)) == (codec_id in registry.STRUCTURED)


def test_a_file_of_stored_blocks_decodes_without_importing_a_codec(tiny_model, tmp_path):
    import subprocess
    import sys

    blob, _ = compress(os.urandom(200_000), tiny_model)
    (tmp_path / "r.arz").write_bytes(blob)
    code = ("import io, sys; from arzip import engine; "
            "engine.decompress_stream(open(sys.argv[1], 'rb'), None); "
            "print('torch' in sys.modules, any(m.startswith('arzip.codecs') for m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "r.arz")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False"]


def test_already_compressed_formats_skip_the_model(tiny_model, monkeypatch):
    from arzip.registry import compressed_format

    assert compressed_format(b"\xff\xd8\xff\xe0\x00\x10JFIF") == "JPEG"
    assert compressed_format(b"\x00\x00\x00\x18ftypmp42") == "MP4/MOV"
    assert compressed_format(b"BZh91AY&SY\x00") == "bzip2"
    assert compressed_format(b"BZh is how this text starts") is None
    assert compressed_format(b"plain text") is None
    # a JPEG-like file with structure zlib finds: not "incompressible", still no model
    data = b"\xff\xd8\xff\xe0" + b"".join(os.urandom(40) + bytes(24) for _ in range(3000))
    monkeypatch.setattr(engine, "load_codec", lambda *a, **k: pytest.fail("model loaded"))
    blob, stats = compress(data, tiny_model)
    assert "JPEG data, already compressed" in stats.decisions[0]
    assert len(blob) < len(data)
    monkeypatch.undo()
    assert decompress(blob, tiny_model) == data


def test_context_mixing_alone_is_skipped_only_where_the_probe_beats_it_clearly():
    from pathlib import Path

    from arzip.codecs.text import cm

    text = (Path(__file__).resolve().parents[1] / "docs" / "FORMAT.md").read_bytes()[:32768]
    alone = 8 * len(cm.encode(text)) / len(text)
    assert engine._network_clearly_better(text, 0.8 * alone)
    assert not engine._network_clearly_better(text, 0.9 * alone)
    assert not engine._network_clearly_better(None, 0.0)
    redundant = b"abcabd" * 5000  # context mixing alone: far below 1 bit/byte
    assert not engine._network_clearly_better(redundant, 0.0)
