"""`arzip sample`: a decode of random bits, repeatable on any machine."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner
from PIL import Image

from arzip import engine, exact, kernels, sampling, zoo
from arzip.cli import main
from arzip.codecs.image.codec import block_subpixel_count
from arzip.codecs.text.sample import words_for
from arzip.coding import CategoricalSampler, LaplaceSampler


def codec_of(model: str, kind: str):
    return engine.load_codec(sampling.KINDS[kind], zoo.find_model(model))


def test_text_sample_is_the_decode_of_its_seeds_bits(tiny_model):
    got = sampling.sample("text", tiny_model, seed=7, length=300)
    codec = codec_of(tiny_model, "text")
    codec.decoder_factory = CategoricalSampler
    assert got == codec.decode_block(sampling.RandomBits(7)(words_for(300)), 300, 1)
    assert got == sampling.sample("text", tiny_model, seed=7, length=300)
    assert got != sampling.sample("text", tiny_model, seed=8, length=300)


def test_image_sample_is_the_decode_of_its_seeds_bits(tiny_image_model):
    png = sampling.sample("image", tiny_image_model, seed=3, width=12, height=9)
    pixels = np.asarray(Image.open(io.BytesIO(png)))
    assert pixels.shape == (9, 12, 3)
    codec = codec_of(tiny_image_model, "image")
    codec.decoder_factory, codec.cm = CategoricalSampler, None  # samples skip the image CM
    bits = sampling.RandomBits(3)
    payloads = ((bits(c * 3 // 4 + 8), c) for c in (
        block_subpixel_count(steps, 9, 12, 3) for steps in codec.blocks(9, 12, 3)))
    from arzip.codecs.image.codec import pixels_from_blocks

    expected = pixels_from_blocks(list(codec.decode({"height": 9, "width": 12, "channels": 3},
                                                    payloads)), 9, 12, 3)
    assert np.array_equal(pixels, expected)
    assert png == sampling.sample("image", tiny_image_model, seed=3, width=12, height=9)


def test_audio_sample_is_the_decode_of_its_seeds_bits(tiny_audio_model):
    wav = sampling.sample("audio", tiny_audio_model, seed=5, seconds=0.05, rate=8000)
    samples, rate = sf.read(io.BytesIO(wav), dtype="int16")
    assert rate == 8000 and samples.shape == (400,)
    codec = codec_of(tiny_audio_model, "audio")
    codec.decoder_factory, codec.cm = LaplaceSampler, None  # samples skip the audio CM
    bits = sampling.RandomBits(5)
    raw = b"".join(codec.decode({"frames": 400, "channels": 1, "rate": 8000},
                                ((bits(2 * len(b) + 8), 2 * len(b)) for b in codec.blocks(400))))
    assert np.array_equal(samples, np.frombuffer(raw, dtype="<i2"))


def test_a_prompt_is_kept_and_conditions_the_rest(tiny_model):
    prompt = b"The cat sat on the "
    got = sampling.sample("text", tiny_model, seed=1, length=50, prompt=prompt)
    assert got.startswith(prompt) and len(got) == len(prompt) + 50
    plain = sampling.sample("text", tiny_model, seed=1, length=50)
    assert got[len(prompt):] != plain
    alone = sampling.sample("text", tiny_model, seed=1, length=50, network_only=True)
    assert alone != plain


def test_temperature_rule_and_bounds(tiny_model):
    rng = np.random.default_rng(0)
    probs = rng.random((20, 256)) ** 3
    probs /= probs.sum(1, keepdims=True)
    for t in (0.25, 1.0, 3.0):
        out = np.empty_like(probs)
        kernels.temper(probs, 1.0 / t, exact.log_table(), exact.exp2_table(), out)
        reference = probs ** (1.0 / t)
        reference /= reference.sum(1, keepdims=True)
        assert np.allclose(out, reference, rtol=3e-3, atol=1e-12)
    assert sampling.laplace_shift(1.0) == 0
    assert sampling.laplace_shift(2.0) == 8 and sampling.laplace_shift(0.5) == -8
    for bad in (0.0, 0.01, 11.0):
        with pytest.raises(ValueError):
            sampling.check_temperature(bad)
    cold = sampling.sample("text", tiny_model, seed=2, length=200, temperature=0.1)
    hot = sampling.sample("text", tiny_model, seed=2, length=200, temperature=5.0)
    assert len(set(cold)) < len(set(hot))  # a cold sample uses fewer distinct bytes


@pytest.mark.parametrize("args, words", [
    (["image", "--size", "64"], "WIDTHxHEIGHT"),
    (["image", "--size", "0x5"], "1 .. 4096"),
    (["image", "--length", "5"], "--length applies to text"),
    (["text", "--rate", "8000"], "--rate applies to audio"),
    (["text", "--temperature", "0"], "--temperature"),
    (["text", "--length", "0"], "--length"),
    (["audio", "--seconds", "0"], "--seconds"),
    (["video"], "'video' is not one of"),
])
def test_bad_arguments_are_usage_errors(args, words):
    result = CliRunner().invoke(main, ["sample", *args])
    assert result.exit_code == 2, result.output
    assert words in result.output


def test_cli_writes_numbered_files_and_keeps_existing_ones(tiny_image_model, tmp_path):
    runner = CliRunner()
    out = tmp_path / "s.png"
    args = ["sample", "image", "-m", tiny_image_model, "--size", "8x6", "-n", "2", "-o",
            str(out), "--seed", "4"]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s-1.png", "s-2.png"]
    assert (tmp_path / "s-1.png").read_bytes() != (tmp_path / "s-2.png").read_bytes()
    assert (tmp_path / "s-2.png").read_bytes() == sampling.sample(
        "image", tiny_image_model, seed=5, width=8, height=6)
    result = runner.invoke(main, args)
    assert result.exit_code == 1 and "already exists" in result.output


def run_sample(args: list[str], env: dict) -> bytes:
    done = subprocess.run([sys.executable, "-m", "arzip.cli", "sample", *args],
                          capture_output=True, timeout=300, env=dict(os.environ, **env))
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("args", [
    ["text", "--length", "120", "--seed", "1"],
    ["image", "--size", "16x12", "--seed", "1"],
    ["audio", "--seconds", "0.1", "--rate", "16000", "--seed", "1"],
])
def test_shipped_models_sample_the_same_bytes_under_other_kernels(args):
    here = run_sample(args, {})
    assert len(here) > 100
    other = run_sample(args, {"MKL_ENABLE_INSTRUCTIONS": "AVX2", "ATEN_CPU_CAPABILITY": "default",
                              "ARZIP_THREADS": "2", "NUMBA_CPU_NAME": "generic"})
    assert here == other
