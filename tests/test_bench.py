"""`arzip bench`: sizes are the real files' sizes, every result is a verified round trip,
failures are reported as failures, missing optional codecs are skipped."""

from __future__ import annotations

import gzip
import io
import json
import lzma
import shutil

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner
from PIL import Image

from arzip import benchmark, engine, plots
from arzip.benchmark import Contender
from arzip.cli import main
from arzip.errors import ArzipError

TEXT = b"".join(b"line %d: the quick brown fox jumps over the lazy dog\n" % i
                for i in range(40))


def png_file(width: int = 64, height: int = 48) -> bytes:
    y, x = np.mgrid[0:height, 0:width]
    noise = np.random.default_rng(1).integers(0, 6, (height, width, 3))
    pixels = (np.stack([x * 12, y * 20, (x + y) * 7], axis=2) + noise).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(out, "PNG")
    return out.getvalue()


def wav_file(frames: int = 1600, rate: int = 16000) -> bytes:
    t = np.arange(frames) / rate
    signal = (3000 * np.sin(2 * np.pi * 440 * t)
              + np.random.default_rng(0).normal(0, 30, frames)).astype(np.int16)
    out = io.BytesIO()
    sf.write(out, signal, rate, format="WAV", subtype="PCM_16")
    return out.getvalue()


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench")
    (root / "notes.txt").write_bytes(TEXT)
    (root / "sub").mkdir()
    (root / "sub" / "picture.png").write_bytes(png_file())
    (root / "sub" / "tone.wav").write_bytes(wav_file())
    return root


def by_codec(rows: list[dict]) -> dict[str, dict]:
    return {r["codec"]: r for r in rows}


def test_reported_sizes_are_the_real_file_sizes(folder, tmp_path):
    for name in ("notes.txt", "sub/picture.png", "sub/tone.wav"):
        path = folder / name
        rows = by_codec(benchmark.bench_file(str(path)))
        assert all(r["ok"] for r in rows.values()), rows
        # arzip: the size of the .arz file that `arzip compress` writes
        out = tmp_path / (path.name + ".arz")
        assert CliRunner().invoke(main, ["compress", "-q", str(path), "-o", str(out)]
                                  ).exit_code == 0
        assert rows["arzip"]["bytes"] == out.stat().st_size
    text = by_codec(benchmark.bench_file(str(folder / "notes.txt")))
    assert text["gzip -9"]["bytes"] == len(gzip.compress(TEXT, 9, mtime=0))
    assert text["xz -9e"]["bytes"] == len(lzma.compress(TEXT, preset=9 | lzma.PRESET_EXTREME))
    assert text["arzip"]["symbols"] == len(TEXT)
    image = by_codec(benchmark.bench_file(str(folder / "sub/picture.png")))
    webp = io.BytesIO()
    Image.open(folder / "sub/picture.png").save(webp, "WEBP", lossless=True, quality=100,
                                               method=6, exact=True)
    assert image["webp lossless -m 6"]["bytes"] == len(webp.getvalue())
    assert image["arzip"]["symbols"] == 64 * 48 * 3
    audio = by_codec(benchmark.bench_file(str(folder / "sub/tone.wav")))
    assert audio["arzip"]["symbols"] == 1600 and audio["arzip"]["kind"] == "audio"


def test_totals_are_file_bits_over_symbols(folder):
    rows = [r for f in benchmark.list_files([str(folder)]) for r in benchmark.bench_file(f)]
    summary = benchmark.summarise(rows)
    assert list(summary) == ["bytes", "image", "audio"]
    for kind, codecs in summary.items():
        for codec, totals in codecs.items():
            mine = [r for r in rows if r["kind"] == kind and r["codec"] == codec]
            bits = 8 * sum(r["bytes"] for r in mine)
            assert totals["bits_per_symbol"] == pytest.approx(
                bits / sum(r["symbols"] for r in mine))
            assert totals["percent_of_raw"] == pytest.approx(
                100 * bits / sum(r["raw_bits"] for r in mine))
    arz = summary["audio"]["arzip"]
    assert arz["model_coded_bits"] > 0 and arz["model_nll_bits"] > 0 and "model" in arz


def test_a_failed_round_trip_is_a_failure_not_a_number(folder, monkeypatch):
    text_baselines = benchmark.baselines("bytes")
    broken = [Contender("corrupting", lambda d, _: gzip.compress(d),
                        lambda b, _: gzip.decompress(b)[:-1] + b"?"),
              Contender("crashing", lambda d, _: 1 / 0, lambda b, _: b)]
    monkeypatch.setattr(text_baselines, "contenders", lambda: (broken, {}))
    rows = by_codec(benchmark.bench_file(str(folder / "notes.txt")))
    assert not rows["corrupting"]["ok"] and "differs" in rows["corrupting"]["error"]
    assert not rows["crashing"]["ok"] and "ZeroDivisionError" in rows["crashing"]["error"]
    totals = benchmark.summarise(list(rows.values()))["bytes"]
    assert totals["corrupting"]["failed"] == 1 and totals["corrupting"]["bits_per_symbol"] is None
    assert "FAILED" in benchmark.report({"bytes": totals}, {})


def test_an_arzip_failure_fails_the_command(folder, monkeypatch):
    def wrong(src, write, *args, **kwargs):
        write(b"not the original")
    monkeypatch.setattr(engine, "decompress_stream", wrong)
    result = CliRunner().invoke(main, ["bench", "-q", str(folder / "notes.txt")])
    assert result.exit_code == 1
    assert "arzip round trip FAILED" in result.output


def test_missing_optional_codecs_are_skipped(folder, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    text_baselines = benchmark.baselines("bytes")
    monkeypatch.setattr(text_baselines, "_module", lambda name: None)
    found, skipped = text_baselines.contenders()
    assert {"zstd -19", "brotli -q 11"} <= set(skipped)
    assert [c.name for c in found] == ["gzip -9", "bzip2 -9", "xz -9e"]
    _, image_skipped = benchmark.baselines("image").contenders()
    assert any(name.startswith("jpeg-xl") for name in image_skipped)
    audio_found, audio_skipped = benchmark.baselines("audio").contenders()
    assert "wavpack -hhx" in audio_skipped and audio_found[0].name.startswith("flac")
    result = CliRunner().invoke(main, ["bench", "-q", str(folder)])
    assert result.exit_code == 0, result.output
    assert "skipped zstd -19" in result.output and "skipped wavpack -hhx" in result.output


def test_bench_command_writes_json_csv_and_plot(folder, tmp_path):
    out = {k: tmp_path / f"r.{k}" for k in ("json", "csv", "png")}
    result = CliRunner().invoke(main, ["bench", "-q", "-j", "2", str(folder),
                                       "--json", str(out["json"]), "--csv", str(out["csv"]),
                                       "--plot", str(out["png"])])
    assert result.exit_code == 0, result.output
    assert "bits/subpixel" in result.output and "bits/sample" in result.output
    report = json.loads(out["json"].read_text())
    assert set(report["totals"]) == {"bytes", "image", "audio"}
    assert report["machine"]["cores"] >= 1 and report["files"]
    assert [r["file"] for r in report["files"]] == sorted(
        (r["file"] for r in report["files"]), key=benchmark.list_files([str(folder)]).index)
    lines = out["csv"].read_text().splitlines()
    assert len(lines) == 1 + len(report["files"]) and lines[0].startswith("file,kind,codec")
    with Image.open(out["png"]) as im:
        assert im.size[0] > 400


def test_plot_without_matplotlib_is_a_clear_error_before_the_run(folder, monkeypatch,
                                                                  tmp_path):
    def missing():
        raise ArzipError("plots need matplotlib: pip install 'arzip[bench]'")
    monkeypatch.setattr(plots, "pyplot", missing)
    monkeypatch.setattr(benchmark, "run", lambda *a, **k: pytest.fail("ran without a plot"))
    result = CliRunner().invoke(main, ["bench", str(folder), "--plot", str(tmp_path / "p")])
    assert result.exit_code == 1 and "matplotlib" in result.output


def test_a_file_with_image_magic_that_is_no_image_is_bytes():
    kind, content = benchmark.classify(b"\x89PNG\r\n\x1a\nnot really a png at all")
    assert kind == "bytes" and content.symbols == 31


def test_command_line_codecs_run_through_temporary_files():
    # `cp` stands in for cjxl/djxl, flac, wavpack: the file plumbing and the check are real
    copy = ["cp", "{inp}", "{out}"]
    image = benchmark.baselines("image")
    content = image.content(png_file())
    tool = image._tool("copy", copy, copy, ".x")
    assert benchmark.same(content.value, tool.decode(tool.encode(b"", content), content))
    audio = benchmark.baselines("audio")
    content = audio.content(wav_file())
    tool = audio._tool("copy", copy, copy, ".x")
    assert benchmark.same(content.value, tool.decode(tool.encode(b"", content), content))
