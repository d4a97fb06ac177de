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


@pytest.mark.parametrize("model", [m.name for m in zoo.list_models()])
def test_model_files_read_without_torch_as_torch_reads_them(model):
    """torchfile (the image codec's loader: no torch) gives every shipped model's values,
    dtypes and shapes exactly as torch.load does."""
    import numpy as np
    import torch

    info = zoo.find_model(model)
    with_torch, arrays = zoo.load_weights(info), zoo.load_weights(info, arrays=True)

    def same(a, b) -> None:
        if isinstance(b, torch.Tensor):
            assert isinstance(a, np.ndarray) and a.dtype == b.numpy().dtype
            assert a.shape == tuple(b.shape) and np.array_equal(a, b.numpy())
        elif isinstance(b, dict):
            assert list(a) == list(b)
            for key in b:
                same(a[key], b[key])
        elif isinstance(b, list | tuple):
            assert len(a) == len(b)
            for x, y in zip(a, b, strict=True):
                same(x, y)
        else:
            assert a == b and type(a) is type(b)

    same(arrays, with_torch)


def test_torchfile_refuses_what_a_model_file_does_not_hold(tmp_path):
    """Objects other than tensors and plain containers, and damaged files, are refused."""
    import pickle
    import zipfile

    from arzip import torchfile

    good = zoo._read_weights(zoo.default_model("image"))
    with pytest.raises(ValueError, match="not a readable model file"):
        torchfile.load(good[: len(good) // 2])
    evil = io.BytesIO()
    with zipfile.ZipFile(evil, "w") as z:
        z.writestr("archive/data.pkl", pickle.dumps({"x": print}, protocol=2))
    with pytest.raises(ValueError, match="unexpected object"):
        torchfile.load(evil.getvalue())


def test_image_coding_runs_without_torch(tmp_path):
    """Compressing and decompressing an image never imports torch (a second of start-up
    and a few hundred MB saved): its model file is read by torchfile, its network is
    numpy and numba."""
    import subprocess
    import sys

    import numpy as np

    rng = np.random.default_rng(3)
    pixels = np.clip(np.cumsum(rng.integers(-3, 4, (24, 40, 3)), 1) + 100, 0, 255)
    (tmp_path / "a.png").write_bytes(png_bytes(pixels.astype(np.uint8)))
    script = (
        "import io, sys\n"
        "from arzip import engine\n"
        f"data = open({str(tmp_path / 'a.png')!r}, 'rb').read()\n"
        "packed = io.BytesIO()\n"
        "stats = engine.compress_stream(io.BytesIO(data), packed, classical_fallback=False)\n"
        "out = io.BytesIO()\n"
        "engine.decompress_stream(io.BytesIO(packed.getvalue()), out.write)\n"
        "assert out.getvalue() == data and stats.codec == 'image', stats\n"
        "assert stats.methods.get('model'), stats\n"
        "print('torch' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "False"


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
