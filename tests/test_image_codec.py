"""The image codec: wavefront == whole-image network, bit-identical probabilities, pixel-exact
round trips of every supported file layout, and clean fallbacks for everything else."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, PngImagePlugin
from roundtrip import compress, decompress

from arzip import engine, zoo
from arzip.codecs.image import cm as image_cm
from arzip.codecs.image import codec as image_codec
from arzip.codecs.image import formats
from arzip.codecs.image.adaptive import AdaptiveConfig, ResidualMixer
from arzip.codecs.image.codec import ImageCodec, pixels_from_blocks
from arzip.codecs.image.exact_model import ExactPixelCNN
from arzip.codecs.image.model import ImageModelConfig, PixelCNN
from arzip.codecs.image.training import calibration as image_calibration
from arzip.codecs.image.wavefront import Wavefront, active_rows, step_count, step_parts
from arzip.errors import ArzipError
from arzip.parallel import Splitter

SIZES = [(1, 1), (1, 9), (9, 1), (13, 10), (6, 33)]  # (height, width)


def smooth(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A gradient with a little noise: an image the PNG filters and the model both like."""
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 7 + y * 2, y * 5 + 40, (x + y) * 3 + 90], -1)
    noise = np.random.default_rng(seed).integers(0, 4, (height, width, 3))
    return ((base + noise) % 256).astype(np.uint8)


def photo(height: int, width: int, seed: int = 0) -> np.ndarray:
    """Smooth shading under correlated noise: an image the shipped model codes smaller
    than WebP lossless (flat graphics are WebP's)."""
    y, x = np.mgrid[0:height, 0:width]
    rng = np.random.default_rng(seed)
    base = np.stack([60 + 40 * np.sin(x / 9.0) + y, 90 + 30 * np.cos(y / 7.0) + x / 2,
                     120 + 20 * np.sin((x + y) / 11.0)], -1)
    noisy = base + rng.normal(0, 6, (height, width, 1)) + rng.normal(0, 2, (height, width, 3))
    return np.clip(noisy, 0, 255).astype(np.uint8)


def graphic(height: int, width: int, mode: str = "RGB") -> bytes:
    """A PNG of flat rectangles and text: WebP lossless codes it far smaller than the
    network with the residual mixture (formats 3-8)."""
    from PIL import ImageDraw

    rng = np.random.default_rng(0)
    image = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    for _ in range(40):
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        draw.rectangle([x, y, x + int(rng.integers(5, 50)), y + int(rng.integers(5, 30))],
                       fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
    for i in range(30):
        draw.text((int(rng.integers(0, width - 20)), int(rng.integers(0, height - 10))),
                  f"arzip {i}", fill=(0, 0, 0))
    return encode(image.convert(mode), "PNG")


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def exact_model(seed: int = 1) -> tuple[PixelCNN, ExactPixelCNN]:
    torch.manual_seed(seed)
    model = PixelCNN(ImageModelConfig(channels=12, layers=3, mixtures=2)).eval()
    with torch.no_grad():  # a head that depends on the pixels (it starts at zero)
        model.head.weight.normal_(0.0, 0.05)
    return model, ExactPixelCNN(model, image_calibration(model, None))


@pytest.mark.parametrize("height,width", SIZES)
@pytest.mark.parametrize("span,split", [(1, False), (1, True), (3, False), (32, False)])
def test_wavefront_steps_equal_the_whole_image_network(height, width, span, split):
    """The decoder's one step at a time (with `split`: each step's rows in two threads
    and the next step's taps on earlier steps summed ahead, as `decode` runs it), and the
    encoder's many, give the whole-image network's integers exactly."""
    _, model = exact_model()
    pixels = np.random.default_rng(2).integers(0, 256, (height, width, 3), dtype=np.uint8)
    whole = model.image_params(pixels, band=4)
    wave, stepped = Wavefront(model, height, width, span), np.full_like(whole, np.nan)
    if split:
        wave.split = Splitter(minimum=2)
    if span > 1:
        wave.set_pixels(*np.indices((height, width)).reshape(2, -1), pixels.reshape(-1, 3))
    total = step_count(height, width)
    for t0 in range(0, total, span):
        rows, cols, params = wave.params(t0, min(total, t0 + span))
        stepped[rows, cols] = params
        wave.set_pixels(rows, cols, pixels[rows, cols])
    if split:
        wave.split.close()
    assert np.array_equal(stepped, whole)


@pytest.mark.parametrize("height,width", SIZES + [(40, 23)])
@pytest.mark.parametrize("part_rows", [1, 2, 8])
def test_runs_of_rows_equal_the_whole_image_network(height, width, part_rows):
    """Format 16's decoder: each step's runs of rows (`step_parts`), computed one after
    another with only the pixels decoded before them, give the whole-image integers."""
    _, model = exact_model()
    pixels = np.random.default_rng(5).integers(0, 256, (height, width, 3), dtype=np.uint8)
    whole = model.image_params(pixels, band=4)
    wave, parted = Wavefront(model, height, width), np.full_like(whole, np.nan)
    for t in range(step_count(height, width)):
        for a, b in step_parts(t, height, width, part_rows):
            rows, cols, params = wave.part(t, a, b)
            parted[rows, cols] = params
            wave.set_pixels(rows, cols, pixels[rows, cols])
    assert np.array_equal(parted, whole)


@pytest.mark.parametrize("height,width", SIZES + [(40, 56), (300, 41), (64, 500)])
@pytest.mark.parametrize("part_rows", [None, 1, 4, 32])
def test_step_parts_split_each_step_in_row_order(height, width, part_rows):
    """Every step's active rows, once each, in ascending runs: two runs split at a multiple
    of part_rows (near the middle) or the whole step; and the split seldom moves up from
    one step to the next (the decoder's pipeline waits for a whole step where it does)."""
    moved_up, total = 0, step_count(height, width)
    previous: list = []
    for t in range(total):
        lo, hi = active_rows(t, height, width)
        parts = step_parts(t, height, width, part_rows)
        assert [r for a, b in parts for r in range(a, b)] == list(range(lo, hi + 1))
        assert len(parts) == (hi >= lo) or (part_rows and len(parts) == 2
                                            and parts[0][1] % part_rows == 0)
        if part_rows is None:
            assert len(parts) == (hi >= lo)
        if len(parts) == 2 and len(previous) == 2 and parts[0][1] > previous[0][1]:
            moved_up += 1
        previous = parts
    if part_rows:
        assert moved_up <= total // part_rows + 1


def test_exact_network_follows_the_float_network():
    """Integer activations and tables stay close to the float model it was made from."""
    model, exact = exact_model()
    pixels = smooth(20, 24)
    with torch.no_grad():
        unit = torch.from_numpy(pixels).permute(2, 0, 1)[None].float() / 127.5 - 1
        float_params = model(unit)[0].permute(1, 2, 0).numpy()
    assert np.abs(exact.image_params(pixels) - float_params).max() < 0.02


def test_network_is_causal():
    """No output depends on its own pixel or on a pixel computed at the same or a later step."""
    torch.manual_seed(0)
    model = PixelCNN(ImageModelConfig(channels=8, layers=3, mixtures=2))
    x = torch.randn(1, 3, 9, 11, requires_grad=True)
    out = model(x)
    for r, c in [(0, 0), (4, 5), (8, 10), (3, 0), (2, 10)]:
        (grad,) = torch.autograd.grad(out[0, :, r, c].sum(), x, retain_graph=True)
        for rr, cc in (grad[0].abs().sum(0) > 0).nonzero().tolist():
            assert cc + 2 * rr < c + 2 * r and (rr, cc) < (r, c)


@pytest.mark.parametrize("cm,part_rows", [(None, None), *((v, None) for v in image_cm.VARIANTS),
                                          (None, 2), (3, 2), (3, 1)])
@pytest.mark.parametrize("helper", [True, False])
def test_encode_and_decode_probabilities_are_bit_identical(tiny_image_model, monkeypatch, cm,
                                                           part_rows, helper):
    """The distributions handed to the coder (network + adaptive mixing) match bit for bit,
    with the range coder of formats 3-8 (cm None) and the context mixing of format 9 (cm
    1), format 13 (cm 2) and format 15 (cm 3), each step at once or (format 16) in runs
    of rows, with the decoder's network in a helper thread or not."""
    monkeypatch.setenv("ARZIP_THREADS", "2" if helper else "1")
    seen: dict[bool, list[np.ndarray]] = {False: [], True: []}
    if cm is None:
        for decoding, cls in ((False, image_codec._BlockEncoder),
                              (True, image_codec._BlockDecoder)):
            def recording(self, channel, freqs, probs, rows, cols, pixel, _call=cls.__call__,
                          _log=seen[decoding]):
                _log.append(probs.copy())
                return _call(self, channel, freqs, probs, rows, cols, pixel)

            monkeypatch.setattr(cls, "__call__", recording)
    else:
        def recording(self, channel, rows, cols, img, pixels, freqs, mixed, decode,
                      _call=image_cm.ImageCM.code):
            seen[decode].append(np.concatenate([freqs, mixed], 1))
            return _call(self, channel, rows, cols, img, pixels, freqs, mixed, decode)

        monkeypatch.setattr(image_cm.ImageCM, "code", recording)
    codec = engine.load_codec("image", zoo.find_model(tiny_image_model))
    codec.block_subpixels, codec.cm, codec.part_rows = 150, cm, part_rows  # several blocks
    pixels = smooth(11, 17)
    blocks = list(codec.encode(pixels))
    info = {"height": 11, "width": 17, "channels": 3}
    decoded = list(codec.decode(info, iter([(p, len(r)) for r, p, _ in blocks])))
    assert decoded == [r for r, _, _ in blocks] and len(blocks) > 2
    runs = sum(len(step_parts(t, 11, 17, part_rows)) for t in range(step_count(11, 17)))
    assert runs > step_count(11, 17) if part_rows else runs == step_count(11, 17)
    assert len(seen[False]) == len(seen[True]) == 3 * runs
    assert all(np.array_equal(a, b) for a, b in zip(seen[False], seen[True], strict=True))
    assert np.array_equal(pixels_from_blocks(decoded, 11, 17, 3), pixels)


@pytest.mark.parametrize("height,width", SIZES)
@pytest.mark.parametrize("helper", [True, False])
def test_runs_of_rows_round_trip_thin_images(tiny_image_model, monkeypatch, height, width,
                                            helper):
    """Format 16's decoder pipeline on images whose steps have one row, or none (one column
    wide: every other step is empty)."""
    monkeypatch.setenv("ARZIP_THREADS", "2" if helper else "1")
    codec = engine.load_codec("image", zoo.find_model(tiny_image_model))
    codec.block_subpixels, codec.part_rows = 12, 1
    pixels = smooth(height, width)
    blocks = list(codec.encode(pixels))
    info = {"height": height, "width": width, "channels": 3}
    decoded = list(codec.decode(info, iter([(p, len(r)) for r, p, _ in blocks])))
    assert np.array_equal(pixels_from_blocks(decoded, height, width, 3), pixels)


def test_block_schedule_covers_every_subpixel_once():
    for height, width in SIZES + [(50, 70)]:
        blocks = image_codec.block_steps(height, width, 3, 100)
        assert blocks[0].start == 0 and blocks[-1].stop == step_count(height, width)
        assert all(a.stop == b.start for a, b in zip(blocks, blocks[1:], strict=False))


def make_image(mode: str, height: int, width: int) -> Image.Image:
    rgb = Image.fromarray(smooth(height, width))
    if mode == "P":
        return rgb.quantize(12)
    if mode in ("RGBA", "LA"):
        image = rgb.convert(mode)
        alpha = np.random.default_rng(3).integers(0, 256, (height, width), dtype=np.uint8)
        image.putalpha(Image.fromarray(alpha))
        return image
    return rgb.convert(mode)


LAYOUTS = [("PNG", m, {}) for m in ("RGB", "L", "RGBA", "LA", "P")] + [
    ("PNG", "P", {"bits": 4}), ("PNG", "RGB", {"optimize": True}),
    ("PNG", "RGB", {"compress_level": 1}), ("PPM", "RGB", {}), ("PPM", "L", {}),
    ("BMP", "RGB", {}), ("BMP", "P", {}), ("TIFF", "RGB", {}), ("TIFF", "RGBA", {})]


@pytest.mark.parametrize("fmt,mode,options", LAYOUTS,
                         ids=[f"{f}-{m}-{'-'.join(map(str, o.values()))}" for f, m, o in LAYOUTS])
@pytest.mark.parametrize("height,width", [(1, 1), (1, 9), (9, 1), (13, 10)])
def test_file_round_trip_is_byte_exact(tiny_image_model, fmt, mode, options, height, width):
    data = encode(make_image(mode, height, width), fmt, **options)
    packed, stats = compress(data, tiny_image_model)
    assert stats.codec == "image" and stats.methods["model"] >= 1
    assert decompress(packed, tiny_image_model) == data
    assert engine.describe(io.BytesIO(packed))["codec_header"]["guarantee"] == "byte-exact"


def test_png_metadata_chunks_are_kept(tiny_image_model):
    meta = PngImagePlugin.PngInfo()
    meta.add_text("Title", "arzip test")
    meta.add_itxt("Comment", "naïve café", lang="fr")
    meta.add_text("zipped", "x" * 300, zip=True)
    data = encode(make_image("RGB", 12, 14), "PNG", pnginfo=meta, dpi=(300, 300),
                  icc_profile=b"\0" * 128, gamma=0.45455)
    assert decompress(compress(data, tiny_image_model)[0], tiny_image_model) == data


def test_png_with_an_unreproducible_zlib_stream_is_pixel_exact(tiny_image_model):
    pixels = smooth(10, 12)
    original = encode(Image.fromarray(pixels), "PNG")
    chunks, trailer = formats._png_chunks(original)
    raw = b"".join(b"\0" + row.tobytes() for row in pixels)
    odd = zlib.compressobj(9, zlib.DEFLATED, 15, 1, zlib.Z_HUFFMAN_ONLY)
    stream = odd.compress(raw) + odd.flush()
    idat = b"IDAT" + stream
    data = (formats.PNG_SIGNATURE + chunks[0][1]
            + len(stream).to_bytes(4, "big") + idat + zlib.crc32(idat).to_bytes(4, "big")
            + chunks[-1][1])
    packed, _ = compress(data, tiny_image_model)
    restored = decompress(packed, tiny_image_model)
    assert engine.describe(io.BytesIO(packed))["codec_header"]["guarantee"] == "pixel-exact"
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(restored))), pixels)
    assert restored[:33] == data[:33]  # signature and IHDR kept


def interlaced_png() -> bytes:
    """A 1x1 PNG flagged as Adam7-interlaced (its one pass has the same bytes)."""
    data = bytearray(encode(make_image("RGB", 1, 1), "PNG"))
    data[28] = 1  # IHDR interlace method
    data[29:33] = zlib.crc32(bytes(data[12:29])).to_bytes(4, "big")
    assert Image.open(io.BytesIO(bytes(data))).info.get("interlace") == 1
    return bytes(data)


@pytest.mark.parametrize("case", ["png16", "interlaced", "jpeg", "gif", "truncated-png"])
def test_other_files_go_to_the_bytes_codec_losslessly(tiny_image_model, case):
    image = make_image("RGB", 8, 8)
    data = {
        "png16": lambda: encode(Image.fromarray(smooth(8, 8)[..., 0].astype(np.uint16) * 257),
                                "PNG"),
        "interlaced": lambda: interlaced_png(),
        "jpeg": lambda: encode(image, "JPEG"),
        "gif": lambda: encode(image, "GIF"),
        "truncated-png": lambda: encode(image, "PNG")[:-20],
    }[case]()
    packed, stats = compress(data, None, fallback=True)
    assert stats.codec == "bytes"
    assert decompress(packed) == data


def test_text_that_starts_like_an_image_keeps_the_byte_model(tiny_model):
    readme = (Path(__file__).resolve().parents[1] / "docs" / "FORMAT.md").read_bytes()
    data = b"P6 is the magic of a PPM, but this is text.\n" + readme[:3000]
    packed, stats = compress(data, None, fallback=True)
    assert stats.codec == "bytes" and "netcm" in stats.methods
    assert decompress(packed) == data


def test_larger_than_the_file_falls_back_to_classical(tiny_image_model):
    data = encode(make_image("RGB", 16, 16), "PNG", optimize=True)
    packed, stats = compress(data, tiny_image_model, fallback=True)
    assert stats.codec == "bytes" and "model" not in stats.methods
    assert decompress(packed) == data


@pytest.fixture
def range_coded(monkeypatch):
    """New images coded as in formats 3-8 (the residual mixture, range-coded): format 9's
    context mixing codes the drawings of `graphic` smaller than WebP (flat areas are
    deterministic contexts), so WebP's fallback, the same in both, is tested there."""
    monkeypatch.setattr(ImageCodec, "default_cm", None)
    monkeypatch.setattr(engine, "_LOADED", {})


@pytest.mark.parametrize("mode,beside", [("RGB", True), ("L", True), ("RGB", False)])
def test_an_image_webp_codes_smaller_is_stored_as_webp(tiny_image_model, mode, beside,
                                                       range_coded, monkeypatch):
    """(WebP runs beside the model's blocks, or before them for a large image.)"""
    monkeypatch.setattr(engine, "WHOLE_BESIDE", engine.WHOLE_BESIDE if beside else 0)
    data = graphic(120, 160, mode)
    packed, stats = compress(data, tiny_image_model, fallback=True)
    assert stats.codec == "image" and stats.methods == {"side": 1, "model": 0, "webp": 1}
    assert stats.decisions[0].startswith("webp ")
    pixels = np.asarray(Image.open(io.BytesIO(data)))
    webp = formats.webp_bytes(pixels if pixels.ndim == 3 else pixels[:, :, None])
    blocks = engine.describe(io.BytesIO(packed))["blocks"]
    assert [b["method"] for b in blocks][1:] == ["webp"]
    assert blocks[1]["payload_bytes"] == len(webp)  # plus side data and framing:
    assert len(packed) <= len(webp) + blocks[0]["payload_bytes"] + 250
    assert decompress(packed, tiny_image_model) == data
    model_only, stats = compress(data, tiny_image_model)  # no fallback: the model's blocks
    assert stats.methods["model"] >= 1 and decompress(model_only, tiny_image_model) == data


def test_the_model_is_kept_where_it_beats_webp():
    """The shipped model on a photo-like image: model blocks, WebP's size in the report."""
    data = encode(Image.fromarray(photo(30, 26)), "PNG", compress_level=0)
    packed, stats = compress(data, None, fallback=True)
    assert stats.methods["model"] == 1 and "webp" not in stats.methods
    assert "webp would take" in stats.decisions[-1]
    assert decompress(packed) == data


@pytest.mark.parametrize("height,width,channels", [(1, 1, 3), (7, 3, 1), (5, 40, 3)])
def test_step_order_of_the_pixels_inverts_their_reassembly(height, width, channels):
    pixels = np.random.default_rng(1).integers(0, 256, (height, width, channels), np.uint8)
    flat = image_codec.subpixels_in_steps(pixels)
    assert np.array_equal(pixels_from_blocks([flat], height, width, channels), pixels)


def test_damaged_webp_blocks_fail_cleanly(tiny_image_model, range_coded):
    from arzip import container

    data = graphic(60, 80)
    packed, _ = compress(data, tiny_image_model, fallback=True)
    src = io.BytesIO(packed)
    version = container.read_header(src).version
    container.read_record(src, version)  # the side data
    at = src.tell()
    record = container.read_record(src, version)
    assert record.method == container.Method.WEBP
    end = at + len(container.pack_block(record))
    small = formats.webp_bytes(np.zeros((60, 79, 3), np.uint8))
    for payload, raw_len in ((record.payload[:len(record.payload) // 2], record.raw_len),
                             (b"RIFF" + bytes(40), record.raw_len), (small, record.raw_len),
                             (record.payload, record.raw_len - 3)):
        bad = packed[:at] + container.pack_block(container.Block(
            container.Method.WEBP, raw_len, 0, record.raw_crc, payload)) + packed[end:]
        with pytest.raises(ArzipError):
            decompress(bad, tiny_image_model)


def test_corruption_gives_a_clean_error(tiny_image_model):
    data = encode(make_image("RGB", 20, 20), "PNG")
    packed, _ = compress(data, tiny_image_model)
    failures = 0
    for at in range(40, len(packed), max(1, len(packed) // 60)):
        bad = bytearray(packed)
        bad[at] ^= 0x55
        try:  # a flip can only be harmless if it is caught or changes nothing
            assert decompress(bytes(bad), tiny_image_model) == data
        except ArzipError:
            failures += 1
    assert failures > 0
    for cut in (len(packed) // 2, len(packed) - 3):
        with pytest.raises(ArzipError):
            decompress(packed[:cut], tiny_image_model)


def test_wrong_image_model_is_refused(tiny_image_model, tmp_path):
    torch.manual_seed(5)
    other = PixelCNN(ImageModelConfig(channels=8, layers=2, mixtures=3))
    zoo.export_model(tmp_path / "other.pt", "tiny-image@1", "image",
                     other.cfg.to_dict(), other.state_dict())
    packed, _ = compress(encode(make_image("RGB", 5, 5), "PNG"), tiny_image_model)
    with pytest.raises(ArzipError, match="sha256"):
        decompress(packed, str(tmp_path / "other.pt"))


def test_thread_setting_does_not_change_the_payload(tiny_image_model):
    data = encode(make_image("RGB", 12, 12), "PNG")
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = compress(data, tiny_image_model)[0]
        torch.set_num_threads(2)
        two = compress(data, tiny_image_model)[0]
    finally:
        torch.set_num_threads(before)
    assert one == two


def test_codec_rejects_a_corrupted_image_size():
    with pytest.raises(ArzipError):
        image_codec.image_shape({"height": 0, "width": 5, "channels": 3})
    for height, width in [(1 << 20, 1 << 20), (1 << 15, 1)]:
        with pytest.raises(ArzipError):
            image_codec.image_shape({"height": height, "width": width, "channels": 3})
    assert ImageCodec.structured


def test_png_filters_over_many_rows_rebuild_byte_exact():
    """Adaptive filters (optimize) over more rows than one filtering band."""
    pixels = smooth(600, 23, seed=4)
    pixels[::7] = np.random.default_rng(5).integers(0, 256, pixels[::7].shape)
    data = encode(Image.fromarray(pixels), "PNG", optimize=True)
    types = set(zlib.decompress(b"".join(
        c[8:-4] for k, c in formats._png_chunks(data)[0] if k == b"IDAT"))[::23 * 3 + 1])
    assert len(types) > 1 and 600 > formats.FILTER_BAND
    found = formats.analyze(data)
    assert found.info["guarantee"] == "byte-exact" and found.output == data
    assert formats.rebuild(found.info, found.side, found.pixels) == data


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "arzip.cli", *args], capture_output=True,
                          text=True, env={**os.environ, **(env or {})})


def test_cli_round_trip_in_separate_processes(tmp_path):
    """Compress and decompress in two processes with different thread settings (the
    shipped model, on an image it codes smaller than WebP)."""
    path = tmp_path / "photo.png"
    meta = PngImagePlugin.PngInfo()
    meta.add_text("Author", "arzip")
    image = Image.fromarray(photo(21, 17)).convert("RGBA")  # opaque: alpha costs ~0
    image.save(path, pnginfo=meta, compress_level=0)
    done = run_cli("compress", "-q", str(path), env={"OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr
    packed = tmp_path / "photo.png.arz"
    info = run_cli("info", str(packed))
    assert "png, 17x21 RGBA" in info.stdout and "byte-exact" in info.stdout
    assert "'model': 1" in info.stdout
    out = tmp_path / "back.png"
    done = run_cli("decompress", "-q", "-o", str(out), str(packed),
                   env={"OMP_NUM_THREADS": "2"})
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == path.read_bytes()
    bad = bytearray(packed.read_bytes())
    bad[-60] ^= 0xFF
    (tmp_path / "bad.png.arz").write_bytes(bytes(bad))
    done = run_cli("decompress", str(tmp_path / "bad.png.arz"))
    assert done.returncode == 1 and len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "bad.png").exists()


def test_cli_pipes_an_image_through_stdin_and_stdout(tiny_image_model, tmp_path):
    data = encode(make_image("RGB", 21, 17), "PNG", compress_level=0)
    packed = subprocess.run([sys.executable, "-m", "arzip.cli", "compress", "-q", "-m",
                             tiny_image_model, "-c", "-"], input=data, capture_output=True)
    assert packed.returncode == 0, packed.stderr
    assert engine.describe(io.BytesIO(packed.stdout))["codec"] == "image"
    back = subprocess.run([sys.executable, "-m", "arzip.cli", "decompress", "-q", "-m",
                           tiny_image_model, "-c", "-"], input=packed.stdout,
                          capture_output=True)
    assert back.returncode == 0 and back.stdout == data


def test_adaptive_statistics_learn_what_the_network_misses():
    """A network that is always 3 values off: the mixer's statistics pick it up."""
    mixer = ResidualMixer(AdaptiveConfig(), 64)
    rng = np.random.default_rng(0)
    costs = []
    for _ in range(60):
        centre = rng.integers(10, 240, 64)
        net = np.exp(-0.5 * ((np.arange(256)[None] - centre[:, None]) / 2.0) ** 2) + 1e-9
        probs = mixer.mix(0, np.rint(net * 2.0 ** 24), np.arange(64))
        assert np.allclose(probs.sum(1), 1.0)
        symbols = centre + 3
        costs.append(-np.log2(probs[np.arange(64), symbols]).mean())
        mixer.update(symbols)
    assert costs[-1] < 0.5 * costs[0] and mixer.weights.min() < 0.5
