"""Golden archives: files written by earlier builds (tests/golden/, made by
tools/make_golden.py) still decode to their originals. A change that breaks one needs a
new format version, and the old version must still decode."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pytest

from arzip import container, engine

GOLDEN = Path(__file__).resolve().parent / "golden"
MANIFEST = json.loads((GOLDEN / "manifest.json").read_text())


def test_every_kind_and_the_model_path_is_covered():
    codecs = {entry["codec"] for entry in MANIFEST.values()}
    assert {"bytes", "image", "audio"} <= codecs
    assert {name.split(".")[-2] for name in MANIFEST} >= {"v3", "v4", "v5", "v6", "v7", "v8",
                                                              "v9", "v10", "v11", "v12",
                                                              "v13", "v14", "v15", "v16"}
    assert any("side" in e["blocks"] and e["codec"] == "bytes" for e in MANIFEST.values())
    for version in ("v4", "v5", "v8"):  # context mixing changed in formats 5 and 8
        assert any("cm" in e["blocks"] for name, e in MANIFEST.items() if version in name)
    assert sum("netcm" in e["blocks"] for e in MANIFEST.values()) >= 2
    assert any("netcm" in e["blocks"] for name, e in MANIFEST.items() if "v8" in name)
    # format 6: an audio file whose blocks are FLAC and the model's
    assert any("flac" in e["blocks"] and e["blocks"].get("model") for e in MANIFEST.values())
    assert "hires.wav.v6.arz" in MANIFEST  # 24-bit samples
    assert MANIFEST["graphic.png.v6.arz"]["blocks"].get("webp") == 1
    # the audio model's blocks with the adaptive cascade of format 6 (cascade 2)
    header = container.read_header(io.BytesIO((GOLDEN / "stereo.wav.v6.arz").read_bytes()))
    assert header.coder["adaptive"]["cascade"] == 2
    assert sum("model" in entry["blocks"] for entry in MANIFEST.values()) >= 4
    # format 9: an image whose model block is coded by context mixing
    header = container.read_header(io.BytesIO((GOLDEN / "gradient.png.v9.arz").read_bytes()))
    assert header.coder["cm"] == 1 and MANIFEST["gradient.png.v9.arz"]["blocks"]["model"] == 1
    # format 10: audio model blocks coded by context mixing
    for name in ("stereo.wav.v10.arz", "mono.flac.v10.arz"):
        header = container.read_header(io.BytesIO((GOLDEN / name).read_bytes()))
        assert header.coder["cm"] == 1 and MANIFEST[name]["blocks"]["model"] == 1
    # format 11: compact records, every codec; no record for a structured file's empty side
    # data (a canonical WAV), one where it has some (FLAC metadata, PNG chunks)
    assert {MANIFEST[n]["codec"] for n in MANIFEST if n.endswith(".v11.arz")} == {
        "bytes", "image", "audio"}
    assert MANIFEST["stereo.wav.v11.arz"]["blocks"] == {"model": 1}
    assert MANIFEST["mono.flac.v11.arz"]["blocks"]["side"] == 1
    # format 12: the trailer keeps 64 bits of the sha256, every codec
    assert {MANIFEST[n]["codec"] for n in MANIFEST if n.endswith(".v12.arz")} == {
        "bytes", "image", "audio"}
    # format 13: the image context mixing's variant 2 (a least-squares predictor)
    header = container.read_header(io.BytesIO((GOLDEN / "gradient.png.v13.arz").read_bytes()))
    assert header.coder["cm"] == 2 and MANIFEST["gradient.png.v13.arz"]["blocks"]["model"] == 1
    # image-pixelcnn-small@3 (no format change): the image model that new files get
    assert MANIFEST["gradient.png.v14.arz"]["model"] == "image-pixelcnn-small@3"
    # format 15: the image context mixing's variant 3
    header = container.read_header(io.BytesIO((GOLDEN / "gradient.png.v15.arz").read_bytes()))
    assert header.coder["cm"] == 3 and MANIFEST["gradient.png.v15.arz"]["blocks"]["model"] == 1
    # format 16: image steps coded in two runs of rows
    header = container.read_header(io.BytesIO((GOLDEN / "gradient.png.v16.arz").read_bytes()))
    assert header.coder["cm"] == 3 and header.coder["part_rows"] == 32
    assert MANIFEST["gradient.png.v16.arz"]["model"] == "image-pixelcnn-small@4"
    assert "part_rows" not in container.read_header(
        io.BytesIO((GOLDEN / "gradient.png.v15.arz").read_bytes())).coder
    # format 14: the audio cascade 3 (least-squares stages), stereo and mono, in a block
    # with the network (model) and in blocks without it (stages, method 8)
    for name, method in (("stereo.wav.v14.arz", "stages"), ("mono.flac.v14.arz", "model"),
                         ("lowbits.wav.v14.arz", "stages")):
        header = container.read_header(io.BytesIO((GOLDEN / name).read_bytes()))
        assert header.coder["adaptive"]["cascade"] == 3 and header.coder["adaptive"]["ols"]
        assert MANIFEST[name]["blocks"][method] == 1


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_golden_archive_decodes_to_its_original(name):
    entry = MANIFEST[name]
    out = io.BytesIO()
    stats = engine.decompress_stream(io.BytesIO((GOLDEN / name).read_bytes()), out.write)
    data = out.getvalue()
    assert len(data) == entry["bytes"] and hashlib.sha256(data).hexdigest() == entry["sha256"]
    assert data == (GOLDEN / entry["original"]).read_bytes()
    assert stats.codec == entry["codec"]
