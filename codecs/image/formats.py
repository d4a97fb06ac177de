"""Image files <-> (pixels for the model, side data to rebuild the file). No torch here.

`analyze` splits a file into the pixels the model codes ((H, W, 3) RGB or (H, W, 1) gray),
side data (bytes) and an `info` dict, and proves at once that `rebuild` gives the file
back: byte-exact, or for a PNG whose zlib stream cannot be regenerated, pixel-exact (same
chunks, same pixels, new IDAT compression). Anything else returns None and the caller
codes the file as bytes.

- Alpha is not modelled: the alpha plane travels in the side data (deflated by the
  container with everything else there).
- Palette images are coded as their RGB colours and mapped back to indices; that needs
  the used palette colours to be distinct.
- PNG: 8-bit gray/RGB/gray+alpha/RGBA and 1/2/4/8-bit palette, not interlaced; every
  other chunk is kept verbatim. PPM/PGM, BMP and uncompressed TIFF: the raster found
  verbatim in the file (rows top-down or bottom-up, RGB or BGR, padded rows).
- At most 2^26 pixels and 2^14 rows (the wavefront's memory grows with the rows).
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass

import numpy as np
from PIL import Image

from arzip import deflate

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_PIXELS = 1 << 26  # larger images go to the bytes codec (bounded memory)
MAX_HEIGHT = 1 << 14  # the wavefront keeps a few activations per row: bound the rows
MODES = {"L": (1, False), "LA": (1, True), "RGB": (3, False), "RGBA": (3, True),
         "P": (3, False)}
FILTER_BAND = 256  # rows filtered at a time
PNG_COLOR_TYPES = {0: "L", 2: "RGB", 3: "P", 4: "LA", 6: "RGBA"}


@dataclass
class ImageFile:
    """An analysed image file."""

    info: dict  # goes into the .arz header
    side: bytes  # everything but the modelled pixels
    pixels: np.ndarray  # (H, W, C) uint8, C = 3 or 1
    output: bytes  # what `rebuild` returns (the input itself when byte-exact)

    @property
    def symbols(self) -> np.ndarray:
        """What the model codes (the engine's name for it)."""
        return self.pixels


# ---------- side data: length-prefixed pieces ----------
def pack_pieces(pieces: list[bytes]) -> bytes:
    head = struct.pack(f"<I{len(pieces)}I", len(pieces), *(len(p) for p in pieces))
    return head + b"".join(pieces)


def unpack_pieces(blob: bytes) -> list[bytes]:
    (count,) = struct.unpack_from("<I", blob)
    sizes = struct.unpack_from(f"<{count}I", blob, 4)
    pos, out = 4 + 4 * count, []
    for size in sizes:
        out.append(blob[pos:pos + size])
        pos += size
    if pos != len(blob):
        raise ValueError("side data length")
    return out


# ---------- pixels <-> the model's planes ----------
def _split_planes(samples: np.ndarray, mode: str, palette: np.ndarray | None
                  ) -> tuple[np.ndarray, bytes] | None:
    """File samples (H, W, S) -> model pixels (H, W, C) and the alpha plane bytes."""
    if mode == "P":
        used = np.unique(samples)
        if len(used) and used.max() >= len(palette):
            return None
        colours = palette[used].astype(np.uint32) @ np.array([1 << 16, 1 << 8, 1], np.uint32)
        if len(np.unique(colours)) != len(used):
            return None  # two indices share a colour: not invertible
        return palette[samples[..., 0]], b""
    colour, alpha = MODES[mode]
    return samples[..., :colour], samples[..., colour:].tobytes() if alpha else b""


def _join_planes(pixels: np.ndarray, alpha: bytes, mode: str,
                 palette: np.ndarray | None) -> np.ndarray:
    """Inverse of _split_planes."""
    if mode == "P":
        keys = pixels.astype(np.uint32) @ np.array([1 << 16, 1 << 8, 1], np.uint32)
        table = palette.astype(np.uint32) @ np.array([1 << 16, 1 << 8, 1], np.uint32)
        order = np.argsort(table, kind="stable")
        pos = np.searchsorted(table[order], keys)
        return order[np.minimum(pos, len(order) - 1)].astype(np.uint8)[..., None]
    if not MODES[mode][1]:
        return pixels
    h, w = pixels.shape[:2]
    return np.concatenate([pixels, np.frombuffer(alpha, np.uint8).reshape(h, w, 1)], 2)


def _palette(im: Image.Image) -> np.ndarray | None:
    if im.mode != "P":
        return None
    pal = np.frombuffer(bytes(im.getpalette("RGB") or b""), np.uint8).reshape(-1, 3)
    return np.concatenate([pal, np.zeros((max(0, 256 - len(pal)), 3), np.uint8)])


# ---------- rasters stored verbatim (PPM/PGM, BMP, TIFF) ----------
RASTER_LAYOUTS = [  # (rows bottom-up, colour order reversed, rows padded to 4 bytes)
    (False, False, False), (True, True, True), (False, True, True)]


def _raster(samples: np.ndarray, bottom_up: bool, bgr: bool, pad4: bool) -> bytes:
    arr = samples
    if bgr and arr.shape[2] >= 3:
        arr = np.concatenate([arr[..., 2::-1], arr[..., 3:]], 2)
    if bottom_up:
        arr = arr[::-1]
    arr = arr.reshape(arr.shape[0], -1)
    if pad4 and arr.shape[1] % 4:
        arr = np.pad(arr, ((0, 0), (0, 4 - arr.shape[1] % 4)))
    return np.ascontiguousarray(arr).tobytes()


def _analyze_raster(data: bytes, im: Image.Image, fmt: str) -> ImageFile | None:
    samples = np.asarray(im).reshape(im.height, im.width, -1)
    palette = _palette(im)
    split = _split_planes(samples, im.mode, palette)
    if split is None:
        return None
    pixels, alpha = split
    for bottom_up, bgr, pad4 in RASTER_LAYOUTS:
        raster = _raster(samples, bottom_up, bgr, pad4)
        at = data.find(raster)
        if at >= 0 and raster:
            info = {"format": fmt, "mode": im.mode, "width": im.width, "height": im.height,
                    "layout": [bottom_up, bgr, pad4], "guarantee": "byte-exact"}
            side = pack_pieces([data[:at], data[at + len(raster):], alpha,
                                b"" if palette is None else palette.tobytes()])
            return ImageFile(info, side, pixels, data)
    return None


def _rebuild_raster(info: dict, pieces: list[bytes], pixels: np.ndarray) -> bytes:
    prefix, suffix, alpha, palette = pieces
    pal = np.frombuffer(palette, np.uint8).reshape(-1, 3) if palette else None
    samples = _join_planes(pixels, alpha, info["mode"], pal)
    return prefix + _raster(samples, *info["layout"]) + suffix


# ---------- PNG ----------
def _png_chunks(data: bytes) -> tuple[list[tuple[bytes, bytes]], bytes] | None:
    """[(type, whole chunk bytes)] and the bytes after IEND; None if malformed."""
    pos, chunks = len(PNG_SIGNATURE), []
    while pos + 12 <= len(data):
        (length,) = struct.unpack_from(">I", data, pos)
        kind = data[pos + 4:pos + 8]
        end = pos + 12 + length
        if end > len(data):
            return None
        chunks.append((kind, data[pos:end]))
        pos = end
        if kind == b"IEND":
            return chunks, data[pos:]
    return None


def _scanlines(samples: np.ndarray, bit_depth: int) -> tuple[np.ndarray, int]:
    """Unfiltered scanlines (H, rowbytes) and bytes per pixel for the filters."""
    h, w, s = samples.shape
    if bit_depth == 8:
        return samples.reshape(h, w * s), s
    per_byte = 8 // bit_depth
    padded = np.pad(samples[..., 0], ((0, 0), (0, (-w) % per_byte)))
    groups = padded.reshape(h, -1, per_byte).astype(np.uint16)
    shifts = (8 - bit_depth * (np.arange(per_byte) + 1)).astype(np.uint16)
    return (groups << shifts).sum(-1).astype(np.uint8), 1


def _filter(lines: np.ndarray, types: np.ndarray, bpp: int) -> np.ndarray:
    """PNG filtering of every row with its own filter type -> (H, 1 + rowbytes) bytes.

    Works through bands of rows so the int16 temporaries stay small for huge images."""
    out = np.empty((lines.shape[0], lines.shape[1] + 1), dtype=np.uint8)
    out[:, 0] = types
    for top in range(0, lines.shape[0], FILTER_BAND):
        prev = lines[top - 1:top] if top else np.zeros_like(lines[:1])
        band = np.concatenate([prev, lines[top:top + FILTER_BAND]]).astype(np.int16)
        x, up = band[1:], band[:-1]
        a = np.zeros_like(x)
        a[:, bpp:] = x[:, :-bpp]
        c = np.zeros_like(x)
        c[:, bpp:] = up[:, :-bpp]
        p = a + up - c
        pa, pb, pc = np.abs(p - a), np.abs(p - up), np.abs(p - c)
        paeth = np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, up, c))
        pred = np.choose(types[top:top + FILTER_BAND, None].astype(np.intp),
                         [np.zeros_like(x), a, up, (a + up) >> 1, paeth])
        out[top:top + FILTER_BAND, 1:] = (x - pred) & 0xFF
    return out


def _find_zlib_params(raw: bytes, target: bytes) -> tuple[int, int, int, int] | None:
    """zlib settings that regenerate the zlib stream `target` from `raw` exactly."""
    if len(target) < 2 or target[0] & 0x0F != 8:
        return None
    return deflate.find_zlib_params(raw, target, (target[0] >> 4) + 8)


def _analyze_png(data: bytes) -> ImageFile | None:
    parsed = _png_chunks(data)
    if parsed is None or not parsed[0] or parsed[0][0][0] != b"IHDR":
        return None
    chunks, trailer = parsed
    width, height, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", chunks[0][1][8:21])
    mode = PNG_COLOR_TYPES.get(ctype)
    depth_ok = depth == 8 or mode == "P" and depth in (1, 2, 4)
    if width * height > MAX_PIXELS or interlace or mode is None or not depth_ok:
        return None
    idat = b"".join(c[8:-4] for k, c in chunks if k == b"IDAT")
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        if im.mode != mode or im.size != (width, height):
            return None
        samples = np.asarray(im).reshape(height, width, -1)
        palette = _palette(im)
    split = _split_planes(samples, mode, palette)
    if split is None:
        return None
    pixels, alpha = split
    lines, bpp = _scanlines(samples, depth)
    decompressed = zlib.decompress(idat)
    rowbytes = lines.shape[1] + 1
    if len(decompressed) < height * rowbytes:
        return None
    types = np.frombuffer(decompressed, np.uint8)[: height * rowbytes: rowbytes].copy()
    if types.max(initial=0) > 4:
        return None
    raw = _filter(lines, types, bpp).tobytes()
    params = _find_zlib_params(raw, idat)
    sizes = [len(c) - 12 for k, c in chunks if k == b"IDAT"]
    info = {"format": "png", "mode": mode, "width": width, "height": height,
            "bit_depth": depth, "zlib": list(params) if params else None,
            "guarantee": "byte-exact" if params else "pixel-exact"}
    first_idat = next(i for i, (k, _) in enumerate(chunks) if k == b"IDAT")
    others = [c for k, c in chunks if k != b"IDAT"]
    side = pack_pieces([alpha, b"" if palette is None else palette.tobytes(), types.tobytes(),
                        np.array(sizes, "<u4").tobytes(), struct.pack("<I", first_idat),
                        trailer, *others])
    output = _rebuild_png(info, unpack_pieces(side), pixels)
    if output != data:
        info["guarantee"] = "pixel-exact"
        with Image.open(io.BytesIO(output)) as again:
            if again.mode != mode or not np.array_equal(
                    np.asarray(again).reshape(samples.shape), samples):
                return None
    return ImageFile(info, side, pixels, output)


def _rebuild_png(info: dict, pieces: list[bytes], pixels: np.ndarray) -> bytes:
    alpha, palette, types, sizes, first, trailer, *others = pieces
    pal = np.frombuffer(palette, np.uint8).reshape(-1, 3) if palette else None
    samples = _join_planes(pixels, alpha, info["mode"], pal)
    lines, bpp = _scanlines(samples, info["bit_depth"])
    raw = _filter(lines, np.frombuffer(types, np.uint8), bpp).tobytes()
    params = info["zlib"] or (9, 15, 9, zlib.Z_DEFAULT_STRATEGY)
    stream = deflate.deflate(raw, tuple(params))
    sizes = [int(s) for s in np.frombuffer(sizes, "<u4")]
    if sum(sizes) != len(stream):  # pixel-exact: new stream, same largest chunk size
        step = max(sizes + [1])
        sizes = [min(step, len(stream) - i) for i in range(0, len(stream), step)] or [0]
    idats, pos = [], 0
    for size in sizes:
        body = b"IDAT" + stream[pos:pos + size]
        idats.append(struct.pack(">I", size) + body + struct.pack(">I", zlib.crc32(body)))
        pos += size
    (at,) = struct.unpack("<I", first)
    return PNG_SIGNATURE + b"".join(others[:at] + idats + others[at:]) + trailer


# ---------- entry points ----------
def identify(data: bytes) -> str | None:
    """The image format Pillow reads the file as (without decoding pixels), or None."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            return (im.format or "").lower() or None
    except Exception:  # Pillow raises many kinds on non-images
        return None



def analyze(data: bytes) -> ImageFile | None:
    """Split an image file for the model, or None when this codec cannot represent it."""
    try:
        if data.startswith(PNG_SIGNATURE):
            found = _analyze_png(data)
        else:
            with Image.open(io.BytesIO(data)) as im:
                fmt = (im.format or "").lower()
                if fmt not in ("ppm", "bmp", "tiff") or im.mode not in MODES:
                    return None
                if im.width * im.height > MAX_PIXELS or getattr(im, "n_frames", 1) != 1:
                    return None
                im.load()
                found = _analyze_raster(data, im, fmt)
    except (OSError, ValueError, SyntaxError, zlib.error, struct.error,
            Image.DecompressionBombError):
        return None
    if found is None or found.pixels.shape[0] * found.pixels.shape[1] > MAX_PIXELS or \
            found.pixels.shape[0] > MAX_HEIGHT:
        return None
    if found.info["format"] != "png" and rebuild(found.info, found.side, found.pixels) != data:
        return None
    found.pixels = np.ascontiguousarray(found.pixels)
    return found


def rebuild(info: dict, side: bytes, pixels: np.ndarray) -> bytes:
    """The file from its analysed parts (inverse of `analyze`)."""
    pieces = unpack_pieces(side)
    if info["format"] == "png":
        return _rebuild_png(info, pieces, pixels)
    return _rebuild_raster(info, pieces, pixels)


WEBP_MAX_SIDE = 16383  # the WebP format's limit


def webp_bytes(pixels: np.ndarray) -> bytes | None:
    """(H, W, C) uint8 pixels (C 3, or 1: grayscale, stored as RGB) as lossless WebP
    (Pillow: lossless, exact, method 6); None when this Pillow has no WebP encoder or the
    image is larger than WebP allows."""
    from PIL import features

    height, width, channels = pixels.shape
    if max(height, width) > WEBP_MAX_SIDE or not features.check("webp"):
        return None
    rgb = pixels if channels == 3 else np.repeat(pixels, 3, axis=2)
    out = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb), "RGB").save(out, "WEBP", lossless=True,
                                                            exact=True, method=6)
    return out.getvalue()


def webp_pixels(payload: bytes, height: int, width: int, channels: int) -> np.ndarray:
    """The (H, W, C) pixels of a `webp_bytes` payload; ValueError when it is not a WebP of
    that size."""
    try:
        with Image.open(io.BytesIO(payload), formats=["WEBP"]) as im:
            if im.size != (width, height) or im.mode not in ("RGB", "RGBA"):
                raise ValueError(f"a {im.mode} WebP of {im.size[0]}x{im.size[1]}, not "
                                 f"{width}x{height}")
            rgb = np.asarray(im.convert("RGB"))
    except (OSError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ValueError(f"not a WebP image ({exc})") from None
    return np.ascontiguousarray(rgb if channels == 3 else rgb[:, :, :1])
