"""Deflate streams opened up: recipes re-create streams bit for bit, files with gzip,
zlib and zip streams inside round-trip byte-exact, and streams that cannot be re-created
cheaply (or bombs) stay as they are."""

from __future__ import annotations

import gzip
import io
import os
import shutil
import subprocess
import zipfile
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arzip import deflate, engine, opened
from arzip import deflate_kernels as K
from arzip.errors import FormatError, IntegrityError

TEXT = b"".join(b"line %d of a log: the quick brown fox jumps over dog %d\n" % (i, i * i % 97)
                for i in range(3000))


def raw_stream(data: bytes, params=(9, -15, 8, 0)) -> bytes:
    return deflate.deflate(data, params)


@pytest.mark.parametrize("level", range(10))
@pytest.mark.parametrize("mem,strategy", [(8, 0), (9, 0), (8, zlib.Z_FILTERED)])
def test_zlib_streams_get_a_settings_recipe(level, mem, strategy):
    stream = raw_stream(TEXT, (level, -15, mem, strategy))
    recipe = deflate.make_recipe(stream, TEXT)
    assert recipe is not None and len(recipe) == 6  # the four settings
    assert deflate.rebuild(TEXT, recipe) == stream


def test_parse_and_write_give_every_stream_back():
    for params in [(1, -15, 8, 0), (9, -9, 9, 0), (0, -15, 8, 0), (6, -15, 8, zlib.Z_HUFFMAN_ONLY),
                   (6, -15, 8, zlib.Z_RLE), (6, -15, 8, zlib.Z_FIXED)]:
        stream = raw_stream(TEXT, params)
        parsed = deflate.parse(stream, len(TEXT))
        assert parsed is not None and parsed.content.tobytes() == TEXT
        assert parsed.used == len(stream)
        assert deflate.write(parsed) == stream


def _literal_variant(content: bytes, keep: np.ndarray) -> bytes:
    """A valid stream zlib never makes: zlib -9's matches, some turned into literals,
    in fixed-Huffman blocks ending at other places."""
    parsed = deflate.parse(raw_stream(content), len(content))
    blocks = np.zeros((3, K.B_COLUMNS), dtype=np.int64)
    blocks[:, K.B_TYPE] = 1
    blocks[2, K.B_FINAL] = 1
    mpos, mlen, mdist = parsed.mpos[keep], parsed.mlen[keep], parsed.mdist[keep]
    # end blocks between tokens: at a third and two thirds, moved off any kept match
    ends = []
    for target in (len(content) // 3, 2 * len(content) // 3):
        inside = (mpos < target) & (mpos + mlen > target)
        ends.append(int((mpos + mlen)[inside][0]) if inside.any() else target)
    blocks[:, K.B_END] = [*ends, len(content)]
    variant = deflate.Parsed(parsed.content, mpos, mlen, mdist, blocks,
                             np.zeros(1, dtype=np.uint8), 0, 0)
    return deflate.write(variant)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.floats(0.0, 1.0))
def test_streams_of_other_encoders_get_a_token_recipe(seed, share):
    rng = np.random.default_rng(seed)
    content = TEXT[: int(rng.integers(1000, len(TEXT)))]
    count = len(deflate.parse(raw_stream(content), len(content)).mpos)
    stream = _literal_variant(content, rng.random(count) < share)
    assert zlib.decompress(stream, -15) == content
    recipe = deflate.make_recipe(stream, content)
    assert recipe is not None
    assert deflate.rebuild(content, recipe) == stream


@pytest.mark.skipif(shutil.which("gzip") is None, reason="no gzip program")
@pytest.mark.parametrize("level", ["-1", "-6", "-9"])
def test_gnu_gzip_streams_are_re_created(level, tmp_path):
    path = tmp_path / "log.txt"
    path.write_bytes(TEXT * 8)
    member = subprocess.run(["gzip", level, "-n", "-c", str(path)], capture_output=True,
                            check=True).stdout
    streams = opened.open_streams(member)
    assert len(streams) == 1 and streams[0].content == TEXT * 8
    if level == "-9":  # zlib -9's tokens: the recipe is the block structure only
        assert len(streams[0].recipe) < 0.01 * streams[0].length


def test_damaged_recipes_raise_value_errors_never_crash():
    stream = _literal_variant(TEXT, np.arange(len(deflate.parse(raw_stream(TEXT),
                                                                 len(TEXT)).mpos)) % 3 > 0)
    recipe = deflate.make_recipe(stream, TEXT)
    rng = np.random.default_rng(1)
    for _ in range(300):
        damaged = bytearray(recipe)
        for at in rng.integers(0, len(damaged), int(rng.integers(1, 4))):
            damaged[at] ^= 1 << int(rng.integers(0, 8))
        if rng.random() < 0.2:
            damaged = damaged[:int(rng.integers(0, len(damaged)))]
        try:
            deflate.rebuild(TEXT, bytes(damaged))
        except ValueError:
            pass
    with pytest.raises(ValueError):
        deflate.rebuild(TEXT[:-1], recipe)


def roundtrip(data: bytes, model: str) -> tuple[bytes, engine.Stats]:
    out = io.BytesIO()
    stats = engine.compress_stream(io.BytesIO(data), out, model)
    back = io.BytesIO()
    engine.decompress_stream(io.BytesIO(out.getvalue()), back.write, model)
    assert back.getvalue() == data
    return out.getvalue(), stats


def test_gzip_zlib_and_zip_inside_a_file_are_opened(tiny_model):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.txt", TEXT, zipfile.ZIP_DEFLATED)
        archive.writestr("b.bin", os.urandom(3000), zipfile.ZIP_DEFLATED)  # deflate can't
        archive.writestr("c.txt", TEXT[::-1], zipfile.ZIP_STORED)
    data = (os.urandom(500) + gzip.compress(TEXT, mtime=0) + b"%PDF stream\n"
            + zlib.compress(TEXT[:40000], 6) + b"\nendstream" + buffer.getvalue()
            + gzip.compress(TEXT[5:], 1, mtime=0))
    blob, stats = roundtrip(data, tiny_model)
    kinds = [line.split()[0] for line in stats.opened]
    assert kinds == ["gzip", "zlib", "zip", "gzip"], stats.opened
    assert stats.methods["side"] == 1 and stats.raw_bytes == len(data)
    assert engine.describe(io.BytesIO(blob))["codec_header"]["streams"] == 4
    report = engine.verify_stream(io.BytesIO(blob), tiny_model)
    assert report["ok"] and report["bytes"] == len(data)


def test_files_without_streams_have_no_side_block(tiny_model):
    blob, stats = roundtrip(TEXT, tiny_model)
    assert not stats.opened and "side" not in stats.methods
    assert "opened" not in engine.describe(io.BytesIO(blob))["codec_header"]


def test_a_stream_zlib_cannot_re_create_cheaply_stays_as_it_is(tiny_model):
    count = len(deflate.parse(raw_stream(TEXT), len(TEXT)).mpos)
    stream = _literal_variant(TEXT, np.zeros(count, dtype=bool))  # every match a literal
    member = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + stream + b"\x00" * 8
    assert opened.open_streams(member) == []
    blob, stats = roundtrip(member, tiny_model)
    assert not stats.opened and "side" not in stats.methods


def test_inflation_bombs_are_left_alone(monkeypatch):
    bomb = zlib.compress(bytes(1 << 20), 9)
    monkeypatch.setattr(opened, "MAX_CONTENT", 1 << 19)
    assert opened.open_streams(bomb) == []
    monkeypatch.setattr(opened, "MAX_CONTENT", 1 << 21)
    assert len(opened.open_streams(bomb)) == 1
    assert opened.open_streams(bomb, limit=1 << 19) == []


def test_damage_in_an_opened_file_is_one_clear_error(tiny_model):
    data = b"head" + gzip.compress(TEXT, mtime=0) + b"tail"
    blob, _ = roundtrip(data, tiny_model)
    header_end = blob.index(b"B", 9)  # first record: the side data
    for at in (header_end + 40, len(blob) - 60):
        damaged = bytearray(blob)
        damaged[at] ^= 0x10
        with pytest.raises((FormatError, IntegrityError)) as info:
            engine.decompress_stream(io.BytesIO(bytes(damaged)), None, tiny_model)
        assert "block" in str(info.value)


def test_a_wrong_recipe_is_caught_by_the_stream_checksum(tiny_model, monkeypatch):
    data = gzip.compress(TEXT, 9, mtime=0)
    blob, _ = roundtrip(data, tiny_model)
    real = deflate.rebuild
    monkeypatch.setattr(deflate, "rebuild", lambda c, r: real(c, r)[:-1] + b"\x00")
    with pytest.raises(IntegrityError, match="not re-created exactly"):
        engine.decompress_stream(io.BytesIO(blob), None, tiny_model)


def test_an_image_or_wav_inside_is_coded_by_its_own_codec():
    import wave

    from PIL import Image

    rng = np.random.default_rng(3)
    y, x = np.mgrid[0:40, 0:48]
    pixels = np.stack([(x * 5 + y) % 256, (y * 6) % 256, (x + y * 2) % 256], -1)
    bmp = io.BytesIO()
    Image.fromarray((pixels + (rng.random(pixels.shape) < 0.05)).astype(np.uint8)).save(
        bmp, format="BMP")
    wav = io.BytesIO()
    with wave.open(wav, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        tone = 3000 * np.sin(np.arange(4000) * 0.05) + rng.normal(0, 20, 4000)
        w.writeframes(tone.astype("<i2").tobytes())
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("picture.bmp", bmp.getvalue())
        archive.writestr("tone.wav", wav.getvalue())
    data = buffer.getvalue()
    out = io.BytesIO()
    stats = engine.compress_stream(io.BytesIO(data), out)
    assert [line.split("; ")[1].split()[0] for line in stats.opened] == ["image", "audio"]
    back = io.BytesIO()
    engine.decompress_stream(io.BytesIO(out.getvalue()), back.write)
    assert back.getvalue() == data
