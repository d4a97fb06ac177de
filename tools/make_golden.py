"""Write the golden archives of tests/golden/ (run once per format version, then commit).

    python tools/make_golden.py

Each original is small and made here (no third-party data): a text (the start of
docs/FORMAT.md, frozen), a binary table, a PNG, a stereo WAV and a FLAC. The archives are
made with the bundled default models; `manifest.json` records every original's sha256
and length and what its archive holds. `tests/test_golden.py` decodes them in every CI
run: a change that breaks one needs a new format version, and the old one must still
decode. Existing archives are never overwritten (delete one by hand to remake it).
"""

from __future__ import annotations

import hashlib
import io
import json
import struct
from pathlib import Path

import numpy as np
import soundfile as sf
from PIL import Image

from arzip import container, engine

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
    t = np.arange(6000)[:, None]
    wave = np.concatenate([2500 * np.sin(t / 9.0), 1800 * np.sin(t / 13.0 + 1)], 1)
    samples = np.round(wave * np.exp(-t / 9000.0) + rng.normal(0, 20, wave.shape)).astype(np.int16)
    wav, flac = io.BytesIO(), io.BytesIO()
    sf.write(wav, samples, 16000, format="WAV", subtype="PCM_16")
    sf.write(flac, samples[:, :1], 22050, format="FLAC", subtype="PCM_16",
             compression_level=1.0)  # the frames arzip restores: the round trip is byte-exact
    return {"text.txt": text, "table.bin": binary, "gradient.png": png.getvalue(),
            "stereo.wav": wav.getvalue(), "mono.flac": flac.getvalue()}


def main() -> None:
    GOLDEN.mkdir(parents=True, exist_ok=True)
    manifest_path = GOLDEN / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    for name, data in originals().items():
        archive = GOLDEN / f"{name}.v{container.FORMAT_VERSION}.arz"
        if archive.exists():
            continue
        out = io.BytesIO()
        # structured files keep the model's coding even where a classical one is smaller
        stats = engine.compress_stream(io.BytesIO(data), out, classical_fallback=False)
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


if __name__ == "__main__":
    main()
