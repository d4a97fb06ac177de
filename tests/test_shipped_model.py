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
    assert stats.methods == {"netcm": 1}
    assert len(packed) < len(lzma.compress(data, preset=9 | lzma.PRESET_EXTREME))
    # coded bits are the model's ideal bits plus a small coder overhead
    # (the coder's last byte may hold the last bits' remainder: up to a byte under the NLL)
    assert stats.model_bits - 8 <= stats.model_coded_bits <= stats.model_bits * 1.01 + 64


def test_dev_file_round_trip(shared_data):
    data = (shared_data / "text" / "dev" / "canterbury" / "grammar.lsp").read_bytes()
    round_trip(data)


def test_default_image_model_is_bundled_and_verified():
    info = zoo.default_model("image")
    exported = zoo.load_weights(info)
    assert exported["codec"] == "image" and exported["config"] == info.config


def png_bytes(pixels) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "PNG", optimize=True)
    return out.getvalue()


def test_real_image_round_trip_beats_png(shared_data):
    import numpy as np
    from PIL import Image

    path = sorted((shared_data / "image" / "dev").rglob("*.png"))[0]
    pixels = np.asarray(Image.open(path).convert("RGB"))[200:264, 300:364]
    data = png_bytes(np.ascontiguousarray(pixels))
    packed, stats = round_trip(data)
    assert stats.codec == "image" and stats.methods["model"] == 1
    assert len(packed) < len(data)
    # (the coder's last byte may hold the last bits' remainder: up to a byte under the NLL)
    assert stats.model_bits - 8 <= stats.model_coded_bits <= stats.model_bits * 1.01 + 64


def test_generated_grayscale_image_round_trip():
    import numpy as np

    y, x = np.mgrid[0:37, 0:29]
    pixels = ((x * 3 + y * 5) % 256).astype(np.uint8)
    round_trip(png_bytes(pixels))


def test_default_audio_model_is_bundled_and_verified():
    info = zoo.default_model("audio")
    exported = zoo.load_weights(info)
    assert exported["codec"] == "audio" and exported["config"] == info.config


def flac_size(samples, rate: int) -> int:
    import soundfile as sf

    out = io.BytesIO()
    sf.write(out, samples, rate, format="FLAC", subtype="PCM_16", compression_level=1.0)
    return len(out.getvalue())


def test_real_speech_round_trip_beats_flac(shared_data):
    import soundfile as sf

    path = sorted((shared_data / "audio" / "dev" / "fsdd_yweweler").glob("*.wav"))[0]
    data = path.read_bytes()
    packed, stats = round_trip(data)
    assert stats.codec == "audio" and stats.methods["model"] == 1
    samples, rate = sf.read(path, dtype="int16")
    assert len(packed) < flac_size(samples, rate)
    assert abs(stats.model_coded_bits - stats.model_bits) <= stats.model_bits * 0.005 + 64


def test_generated_stereo_audio_round_trip():
    import numpy as np
    import soundfile as sf

    t = np.arange(11025)[:, None]
    samples = np.round(6000 * np.sin(t / np.array([[9.0, 9.5]]))
                       + np.random.default_rng(0).normal(0, 20, (len(t), 2))).astype(np.int16)
    wav = io.BytesIO()
    sf.write(wav, samples, 44100, format="WAV", subtype="PCM_16")
    packed, stats = round_trip(wav.getvalue())
    # two pure tones in white noise: FLAC's home ground (the model's payload is ~5 % larger
    # here), so the block is stored as FLAC; the real speech test above must beat FLAC (a
    # canonical WAV has no side data, so no side-data record from format 11 on)
    assert stats.codec == "audio" and stats.methods == {"model": 0, "flac": 1}
    assert len(packed) <= flac_size(samples, 44100) + 300
    assert len(packed) < min(len(wav.getvalue()) // 2, len(lzma.compress(samples.tobytes())))
