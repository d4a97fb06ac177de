"""Write the golden archives of tests/golden/ (run once per format version, then commit).

    python tools/make_golden.py [NAME ...]   # only these originals (default: all)

Each original is small and made here (no third-party data): a text (the start of
docs/FORMAT.md, frozen), a binary table, a PNG, a stereo WAV and a FLAC. The archives are
made with the bundled default models; `manifest.json` records every original's sha256
and length and what its archive holds. `tests/test_golden.py` decodes them in every CI
run: a change that breaks one needs a new format version, and the old one must still
decode. Existing archives are never overwritten (delete one by hand to remake it).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import struct
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
from PIL import Image

from arzip import container, deflate, engine

GOLDEN = Path(__file__).resolve().parents[1] / "tests" / "golden"
ROOT = Path(__file__).resolve().parents[1]


def originals() -> dict[str, bytes]:
    rng = np.random.default_rng(2026)
    text = (ROOT / "docs" / "FORMAT.md").read_bytes()[:6000]
    table = b"".join(struct.pack("<Ihf", i, int(1000 * np.sin(i / 7)), i / 3) for i in range(300))
    binary = b"ARZG\x00\x01" + table + b"name=golden;kind=binary\x00" * 4
    y, x = np.mgrid[0:40, 0:56]
    image = np.stack([x * 4 + y, y * 5 + 30, (x + y) * 2 + 60], -1)
    image += rng.integers(0, 6, (40, 56, 3))
    png = io.BytesIO()
    Image.fromarray((image % 256).astype(np.uint8)).save(png, "PNG")
    log = b"".join(b"2026-11-30 12:%02d:%02d worker-%d processed %d items in %d ms\n"
                   % (i // 60 % 60, i % 60, i % 7, (i * 37) % 1000, (i * 13) % 97)
                   for i in range(1500))  # context mixing codes this best (format 4)
    t = np.arange(6000)[:, None]
    wave = np.concatenate([2500 * np.sin(t / 9.0), 1800 * np.sin(t / 13.0 + 1)], 1)
    samples = np.round(wave * np.exp(-t / 9000.0) + rng.normal(0, 20, wave.shape)).astype(np.int16)
    wav, flac = io.BytesIO(), io.BytesIO()
    sf.write(wav, samples, 16000, format="WAV", subtype="PCM_16")
    sf.write(flac, samples[:, :1], 22050, format="FLAC", subtype="PCM_16",
             compression_level=1.0)  # the frames arzip restores: the round trip is byte-exact
    notes = (ROOT / "docs" / "FORMAT.md").read_bytes()[6000:10000]  # format 5: level 1 (CM)
    # format 6: 8-bit audio in 16-bit samples (FLAC codes it smaller), then a resonance
    # driven by Laplace noise (the model does): two blocks of 5000 frames
    low = np.round(rng.normal(0, 30, (5000, 1))).astype(np.int16) * 256
    drive, ar = rng.laplace(0, 60, 5000), np.zeros(5000)
    for i in range(2, 5000):
        ar[i] = 1.6 * ar[i - 1] - 0.8 * ar[i - 2] + drive[i]
    low = np.concatenate([low, np.round(ar).astype(np.int16)[:, None]])
    lowbits = io.BytesIO()
    sf.write(lowbits, low, 8000, format="WAV", subtype="PCM_16")
    # format 6: 24-bit samples (always FLAC blocks)
    hires = io.BytesIO()
    deep = samples[:3000].astype(np.int32) * 300 + rng.integers(-99, 99, (3000, 2), np.int32)
    sf.write(hires, deep << 8, 96000, format="WAV", subtype="PCM_24")
    # format 6: flat rectangles, which lossless WebP codes smaller than the model
    flat = np.full((120, 160, 3), 255, np.uint8)
    for _ in range(50):
        top, left = rng.integers(0, 120), rng.integers(0, 160)
        flat[top:top + rng.integers(3, 40), left:left + rng.integers(3, 60)] = \
            rng.integers(0, 256, 3)
    graphic = io.BytesIO()
    Image.fromarray(flat).save(graphic, "PNG")
    return {"text.txt": text, "table.bin": binary, "gradient.png": png.getvalue(),
            "stereo.wav": wav.getvalue(), "mono.flac": flac.getvalue(),
            "streams.bin": streams(text, rng), "log.txt": log, "notes.txt": notes,
            "lowbits.wav": lowbits.getvalue(), "hires.wav": hires.getvalue(),
            "graphic.png": graphic.getvalue()}


# originals coded at another level than the default (the default picks method 5 for text)
EFFORTS = {"notes.txt": engine.LEVELS[1]}
# originals coded with their classical fallbacks on (FLAC blocks of 5000 frames; WebP)
FALLBACK = {"lowbits.wav": 5000, "graphic.png": None}


def streams(text: bytes, rng: np.random.Generator) -> bytes:
    """Deflate streams to open (format 4): a gzip member zlib makes, and a raw stream zlib
    does not (zlib -9's matches, a few dropped, in fixed-code blocks: a token recipe)."""
    import gzip

    parsed = deflate.parse(deflate.deflate(text, (9, -15, 8, 0)), len(text))
    keep = rng.random(len(parsed.mpos)) < 0.99
    blocks = np.array([[1, 0, len(text) // 2, 0, 0, 0], [1, 1, len(text), 0, 0, 0]])
    mpos, mlen, mdist = parsed.mpos[keep], parsed.mlen[keep], parsed.mdist[keep]
    inside = (mpos < len(text) // 2) & (mpos + mlen > len(text) // 2)
    blocks[0, 2] = int((mpos + mlen)[inside][0]) if inside.any() else len(text) // 2
    variant = deflate.write(deflate.Parsed(parsed.content, mpos, mlen, mdist,
                                           blocks.astype(np.int64),
                                           np.zeros(1, dtype=np.uint8), 0, 0))
    zip_header = b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(16) + b"\x01\x00\x00\x00x"
    return (b"head\n" + gzip.compress(text[::-1], 9, mtime=0) + b"\nmiddle\n" + zip_header
            + variant + b"\ntail\n")


def main(names: list[str]) -> None:
    GOLDEN.mkdir(parents=True, exist_ok=True)
    manifest_path = GOLDEN / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    for name, data in originals().items():
        if names and name not in names:
            continue
        archive = GOLDEN / f"{name}.v{container.FORMAT_VERSION}.arz"
        if archive.exists():
            continue
        if (GOLDEN / name).exists():  # originals are frozen once written
            data = (GOLDEN / name).read_bytes()
        out = io.BytesIO()
        # structured files keep the model's coding even where a classical one is smaller
        # (but for FALLBACK)
        with block_frames(FALLBACK.get(name)):
            stats = engine.compress_stream(io.BytesIO(data), out,
                                           classical_fallback=name in FALLBACK,
                                           effort=EFFORTS.get(name))
        archive.write_bytes(out.getvalue())
        (GOLDEN / name).write_bytes(data)
        restored = io.BytesIO()
        engine.decompress_stream(io.BytesIO(out.getvalue()), restored.write)
        if restored.getvalue() != data:
            raise SystemExit(f"{name}: the round trip is not byte-exact")
        manifest[archive.name] = {"original": name, "bytes": len(data),
                                  "sha256": hashlib.sha256(data).hexdigest(),
                                  "codec": stats.codec, "model": stats.model,
                                  "blocks": stats.methods}
        print(f"{archive.name}: {len(data)} -> {len(out.getvalue())} bytes {stats.methods}")
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


@contextlib.contextmanager
def block_frames(frames: int | None):
    """The audio codec's blocks of `frames` frames while compressing (the header records
    them), or its default when None."""
    load = engine.load_codec

    def loaded(*args, **kwargs):
        codec = load(*args, **kwargs)
        if frames and hasattr(codec, "block_frames"):
            codec.block_frames = frames
        return codec

    engine.load_codec = loaded
    try:
        yield
    finally:
        engine.load_codec = load


if __name__ == "__main__":
    main(sys.argv[1:])
