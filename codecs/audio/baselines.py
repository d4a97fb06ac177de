"""The classical competitors of the audio codec for `arzip bench`: FLAC -8 (the flac tool,
else libsndfile's FLAC encoder at its highest compression level, named so) and WavPack
-hhx (when the wavpack tools are installed). A decoded file counts when its samples equal
the original's."""

from __future__ import annotations

import io
import shutil

import numpy as np
import soundfile as sf

from arzip.benchmark import Contender, Content, run_tool

UNIT = "sample"
SUBTYPE_BITS = {"PCM_S8": 8, "PCM_U8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32,
                "FLOAT": 32, "DOUBLE": 64}
FLAC_SUBTYPES = {"PCM_S8", "PCM_U8", "PCM_16", "PCM_24"}


def _samples(data: bytes) -> tuple[np.ndarray, int, str]:
    with sf.SoundFile(io.BytesIO(data)) as f:
        return f.read(dtype="int32", always_2d=True), f.samplerate, f.subtype


def content(data: bytes) -> Content | None:
    """Frames x channels samples; None if libsndfile cannot read the file."""
    try:
        samples, rate, subtype = _samples(data)
    except (RuntimeError, sf.LibsndfileError, TypeError, ValueError):
        return None
    return Content(symbols=int(samples.size), raw_bits=int(samples.size) * SUBTYPE_BITS.get(
        subtype, 16), value=samples, meta={"rate": rate, "subtype": subtype})


def _wav(c: Content) -> bytes:
    out = io.BytesIO()
    sf.write(out, c.value, c.meta["rate"], format="WAV", subtype=c.meta["subtype"])
    return out.getvalue()


def _libsndfile_flac() -> Contender:
    def encode(_: bytes, c: Content) -> bytes:
        if c.meta["subtype"] not in FLAC_SUBTYPES:
            raise ValueError(f"FLAC cannot hold {c.meta['subtype']} samples")
        out = io.BytesIO()
        sf.write(out, c.value, c.meta["rate"], format="FLAC",
                 subtype="PCM_S8" if c.meta["subtype"] == "PCM_U8" else c.meta["subtype"],
                 compression_level=1.0)
        return out.getvalue()
    return Contender("flac -8 (libsndfile)", encode, lambda b, _: _samples(b)[0])


def _tool(name: str, encoder: list[str], decoder: list[str], suffix: str) -> Contender:
    """A command-line codec: {inp} a WAV of the samples -> {out}; decoder {inp} -> WAV {out}."""
    return Contender(name, lambda _, c: run_tool(encoder, _wav(c), ".wav", suffix),
                     lambda blob, _: _samples(run_tool(decoder, blob, suffix, ".wav"))[0])


def contenders() -> tuple[list[Contender], dict[str, str]]:
    """(the available classical codecs, {codec: why it is skipped})."""
    skipped = {}
    if shutil.which("flac"):
        found = [_tool("flac -8", ["flac", "-8", "-s", "-f", "-o", "{out}", "{inp}"],
                       ["flac", "-d", "-s", "-f", "-o", "{out}", "{inp}"], ".flac")]
    else:
        found = [_libsndfile_flac()]
        skipped["flac -8 (flac tool)"] = ("flac is not installed: FLAC measured with "
                                          "libsndfile's encoder at its highest compression "
                                          "level (1.0)")
    if shutil.which("wavpack") and shutil.which("wvunpack"):
        found.append(_tool("wavpack -hhx", ["wavpack", "-hhx", "-q", "-y", "{inp}", "-o",
                                            "{out}"],
                           ["wvunpack", "-q", "-y", "{inp}", "-o", "{out}"], ".wv"))
    else:
        skipped["wavpack -hhx"] = "wavpack/wvunpack are not installed"
    return found, skipped
