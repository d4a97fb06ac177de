"""`arzip likelihood`: NLL next to the really coded bits, order-0 baseline, sampling, maps."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from test_bench import TEXT, png_file, wav_file

from arzip import engine, likelihood
from arzip.cli import main
from arzip.registry import codec_module


@pytest.mark.parametrize("make", [lambda: TEXT, png_file, wav_file], ids=["bytes", "image",
                                                                          "audio"])
def test_nll_and_coded_bits_are_those_of_compress(make):
    data = make()
    evaluation = likelihood.evaluate(data)
    if evaluation.codec != "bytes":  # the structured path codes with the model here
        stats = engine.compress_stream(io.BytesIO(data), io.BytesIO(), classical_fallback=False)
        assert evaluation.coded_bits == stats.model_coded_bits
        assert evaluation.nll_bits == pytest.approx(stats.model_bits, rel=1e-12)
    assert evaluation.overhead_bits == evaluation.coded_bits - evaluation.nll_bits
    assert evaluation.overhead_percent == pytest.approx(
        100 * (evaluation.coded_bits / evaluation.nll_bits - 1))
    assert evaluation.symbols == evaluation.total_symbols == evaluation.values.size
    # every symbol got its bits, and they add up to the NLL
    assert not np.isnan(evaluation.bits).any()
    assert float(evaluation.bits.astype(np.float64).sum()) == pytest.approx(
        evaluation.nll_bits, rel=1e-4)


def test_bytes_coded_bits_are_the_model_payloads_of_compress():
    from arzip import zoo

    codec = engine.load_codec("bytes", zoo.default_model("bytes"))
    _, payload, ideal = codec.encode_cm_block(TEXT)
    evaluation = likelihood.evaluate(TEXT)
    assert evaluation.coded_bits == 8 * len(payload)
    assert evaluation.nll_bits == pytest.approx(ideal, rel=1e-12)


def test_order0_is_the_histogram_entropy():
    assert likelihood.order0_bits(np.array([0, 0, 1, 1], dtype=np.uint8)) == pytest.approx(4)
    assert likelihood.order0_bits(np.array([7, 7, 7])) == 0
    evaluation = likelihood.evaluate(b"abab" * 100)
    assert evaluation.order0_bits == pytest.approx(400)


def test_sample_segments_are_evenly_spaced_and_bounded():
    assert likelihood.sample_segments(100, 3, 300) == [(0, 100)]
    segments = likelihood.sample_segments(10_000, 1, 1024)
    assert len(segments) == likelihood.SEGMENTS
    assert segments[0][0] == 0 and segments[-1][1] == 10_000
    assert sum(b - a for a, b in segments) <= 1024
    assert all(b - a == segments[0][1] - segments[0][0] for a, b in segments)
    assert all(a2 >= b1 for (_, b1), (a2, _) in zip(segments, segments[1:], strict=False))
    wide = likelihood.sample_segments(1000, 5000, 100_000)  # 20 rows fit: one middle strip
    assert wide == [(490, 510)]


def test_a_large_file_is_sampled_and_says_how():
    data = TEXT * 3
    evaluation = likelihood.evaluate(data, max_symbols=1024)
    assert evaluation.symbols == sum(b - a for a, b in evaluation.segments) <= 1024
    assert evaluation.total_symbols == len(data)
    assert "evenly spaced" in evaluation.sampling
    sampled = np.zeros(len(data), dtype=bool)
    for a, b in evaluation.segments:
        sampled[a:b] = True
    assert not np.isnan(evaluation.bits[sampled]).any()
    assert np.isnan(evaluation.bits[~sampled]).all()


def test_image_map_has_the_image_size(tmp_path):
    data = png_file(40, 28)
    evaluation = likelihood.evaluate(data, max_symbols=40 * 3 * 1000)
    out = tmp_path / "map.png"
    codec_module("image", "surprise").render(evaluation, str(out))
    with Image.open(out) as im:
        assert im.size == (40, 28) and im.mode == "RGB"
    sampled = likelihood.evaluate(png_file(16, 200), max_symbols=16 * 3 * 64)
    codec_module("image", "surprise").render(sampled, str(out))
    with Image.open(out) as im:
        assert im.size == (16, 200)
        grey = np.all(np.asarray(im) == 128, axis=2)
        assert grey.any() and not grey.all()  # not-sampled rows are grey


def test_text_map_shows_every_character(tmp_path):
    data = "héllo <world> & co\r\nline two\n".encode() + b"\xff"
    evaluation = likelihood.evaluate(data)
    out = tmp_path / "map.html"
    codec_module("bytes", "surprise").render(evaluation, str(out))
    page = out.read_text(encoding="utf-8")
    assert "&lt;" in page and "&amp;" in page and "é" in page and "\\xff" in page
    assert page.count("<i class=c") == len(data.decode("utf-8", "replace")) - 1  # CR LF: one


def test_audio_map_is_a_plot(tmp_path):
    evaluation = likelihood.evaluate(wav_file())
    out = tmp_path / "map.png"
    codec_module("audio", "surprise").render(evaluation, str(out))
    with Image.open(out) as im:
        assert im.size[0] > 500


def test_likelihood_command_compares_models_and_writes_a_map(tmp_path, tiny_model):
    path = tmp_path / "notes.txt"
    path.write_bytes(TEXT)
    result = CliRunner().invoke(main, ["likelihood", str(path), "-m", tiny_model, "--json",
                                       "--map", str(tmp_path / "notes.html")])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [r["model"] for r in report][1] == "tiny-test@1" and len(report) == 2
    for r in report:
        assert r["overhead_bits"] == pytest.approx(r["coded_bits"] - r["nll_bits"])
        assert r["order0_bits_per_symbol"] == pytest.approx(report[0]["order0_bits_per_symbol"])
    assert report[0]["nll_bits"] < report[1]["nll_bits"]  # trained beats random
    assert (tmp_path / "notes.html").stat().st_size > len(TEXT)
    table = CliRunner().invoke(main, ["likelihood", str(path)])
    assert "order-0 entropy of the bytes" in table.output and "overhead" in table.output


def test_a_model_of_another_kind_is_a_clear_error(tmp_path, tiny_image_model):
    path = tmp_path / "notes.txt"
    path.write_bytes(TEXT)
    result = CliRunner().invoke(main, ["likelihood", str(path), "-m", tiny_image_model])
    assert result.exit_code == 1
    assert "codes image files" in result.output
