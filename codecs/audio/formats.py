"""Audio files <-> 16- or 24-bit samples + side data (no torch).

- WAV (RIFF, PCM or WAVE_FORMAT_EXTENSIBLE PCM, 16- or 24-bit): the sample bytes of the
  `data` chunk are the symbols; every other byte of the file (header, unknown chunks,
  trailing bytes) is side data, so the file is restored byte for byte by construction.
- AIFF / AIFF-C (`NONE` or `sowt`, 16- or 24-bit): the same, with the big-endian (or
  `sowt` little-endian) samples of the `SSND` chunk: byte-exact.
- FLAC (16- or 24-bit): decoded with soundfile; the metadata blocks (tags, pictures, seek
  tables, application data, anything before `fLaC`) are side data. Rebuilt by encoding the
  samples with soundfile's FLAC writer and putting the original metadata back:
  sample-exact with the metadata kept, not byte-exact (the frames are libsndfile's).

24-bit samples (info["bits"] = 24; absent means 16) are held as int32 and travel between
the codec and the container as packed 3-byte little-endian values (`pack24`); the model
codes 16-bit samples only, so every 24-bit block is FLAC (block method 6). Anything else
(8-bit, 32-bit, float, more than MAX_CHANNELS channels, compressed WAV, RF64, a file
soundfile cannot read) is not analyzed: the engine stores it with the classical methods of
the bytes path, so it is never an error and never lossy.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

MAX_CHANNELS = 8
WAVE_PCM, WAVE_EXTENSIBLE = 1, 0xFFFE
FLAC_STREAMINFO = 0


@dataclass
class AudioFile:
    """A file split into header info, side data and its samples (frames, channels): int16,
    or int32 holding 24-bit values when info["bits"] is 24."""

    info: dict
    side: bytes
    samples: np.ndarray
    output: bytes  # the file as decompression restores it

    @property
    def symbols(self) -> np.ndarray:
        return self.samples


def identify(data: bytes) -> str | None:
    """"wav", "aiff" or "flac" when the file is one of those formats (any sample type)."""
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "wav"
    if data[:4] == b"FORM" and data[8:12] in (b"AIFF", b"AIFC"):
        return "aiff"
    if data[:4] == b"fLaC" or (data[:3] == b"ID3" and b"fLaC" in data[:1 << 20]):
        return "flac"
    return None


def analyze(data: bytes) -> AudioFile | None:
    """The file as side data + 16-bit samples, or None when it has no 16-bit PCM we code."""
    kind = identify(data)
    try:
        if kind == "wav":
            return _analyze_wav(data)
        if kind == "aiff":
            return _analyze_aiff(data)
        if kind == "flac":
            return _analyze_flac(data)
    except (struct.error, ValueError, RuntimeError, IndexError):
        return None
    return None


def sample_bits(info: dict) -> int:
    """16 or 24: the bits of the file's samples (ValueError for anything else)."""
    bits = int(info.get("bits", 16))
    if bits not in (16, 24):
        raise ValueError(f"{bits}-bit samples")
    return bits


def pack(samples: np.ndarray, bits: int) -> bytes:
    """Interleaved little-endian samples: int16, or 24-bit values in 3 bytes each."""
    if bits == 16:
        return samples.astype("<i2").tobytes()
    return samples.astype("<i4").reshape(-1, 1).view(np.uint8)[:, :3].tobytes()


def unpack(raw: bytes, channels: int, bits: int) -> np.ndarray:
    """The inverse of `pack`: (frames, channels) int16, or int32 for 24-bit samples."""
    if bits == 16:
        return np.frombuffer(raw, "<i2").reshape(-1, channels)
    three = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
    values = three[:, 0] | (three[:, 1] << 8) | (three[:, 2] << 16)
    return (values - ((values & 0x800000) << 1)).reshape(-1, channels)


def rebuild(info: dict, side: bytes, samples: np.ndarray) -> bytes:
    """The file from its header info, side data and samples (the inverse of `analyze`)."""
    return b"".join(restore(info, side, samples.shape[1],
                            [pack(samples, sample_bits(info))]))


def restore(info: dict, side: bytes, channels: int, blocks: Iterable[bytes]) -> Iterator[bytes]:
    """`rebuild` from blocks of interleaved little-endian samples (`pack`), piece by piece
    (WAV and AIFF a block at a time); ValueError when the blocks do not hold
    info["frames"] frames."""
    bits = sample_bits(info)
    if info["format"] in ("wav", "aiff"):
        if info.get("layout") == "canonical":
            side = canonical_wav_header(int(info["rate"]), channels, int(info["frames"]))
        offset = int(info["offset"])
        if not 0 <= offset <= len(side):
            raise ValueError(f"offset {offset}")
        little = info["format"] == "wav" or info.get("byteorder") == "little"
        yield side[:offset]
        frames, width = 0, bits // 8
        for block in blocks:
            if len(block) % (width * channels):
                raise ValueError("a block of partial frames")
            frames += len(block) // (width * channels)
            if little:
                yield block
            else:  # each sample's bytes reversed
                yield np.frombuffer(block, np.uint8).reshape(-1, width)[:, ::-1].tobytes()
        if frames != int(info["frames"]):
            raise ValueError("decoded audio has the wrong number of frames")
        yield side[offset:]
    elif info["format"] == "flac":
        samples = unpack(b"".join(blocks), channels, bits)
        yield _flac_bytes(side, samples, int(info["rate"]), int(info["prefix"]), bits)
    else:
        raise ValueError(f"format {info['format']!r}")


def _chunks(data: bytes, start: int, endian: str):
    """(id, payload start, payload size) of the RIFF/IFF chunks from `start`."""
    pos = start
    while pos + 8 <= len(data):
        cid = data[pos:pos + 4]
        (size,) = struct.unpack(endian + "I", data[pos + 4:pos + 8])
        yield cid, pos + 8, size
        pos += 8 + size + (size & 1)


def _pcm_file(data: bytes, info: dict, start: int, size: int, order: str, channels: int,
              bits: int = 16) -> AudioFile | None:
    """The samples at data[start:start + size] (whole frames only) and the rest as side."""
    width = bits // 8
    frame_bytes = width * channels
    if not 1 <= channels <= MAX_CHANNELS:
        return None
    size = min(size, len(data) - start) // frame_bytes * frame_bytes
    if bits == 16:
        # a view of the file (a memory map for a large one): no copy of the samples
        samples = np.frombuffer(data, dtype=f"{order}i2", count=size // 2, offset=start)
        samples = samples.reshape(-1, channels)
    else:  # 24-bit: unpacked to int32 (4 bytes of memory per sample)
        raw = np.frombuffer(data, np.uint8, count=size, offset=start).reshape(-1, 3)
        samples = unpack((raw if order == "<" else raw[:, ::-1]).tobytes(), channels, 24)
        info["bits"] = 24
    info.update(offset=start, channels=channels, frames=len(samples), guarantee="byte-exact")
    return AudioFile(info, data[:start] + data[start + size:], samples, data)


def _analyze_wav(data: bytes) -> AudioFile | None:
    fmt, found = None, None
    for cid, start, size in _chunks(data, 12, "<"):
        if cid == b"fmt " and size >= 16:
            fmt = struct.unpack("<HHIIHH", data[start:start + 16])
            if fmt[0] == WAVE_EXTENSIBLE and size >= 40:
                fmt = (struct.unpack("<H", data[start + 24:start + 26])[0],) + fmt[1:]
        elif cid == b"data" and fmt is not None and found is None:
            found = start, size
    if fmt is None or found is None:
        return None
    tag, channels, rate, _, align, bits = fmt
    if tag != WAVE_PCM or bits not in (16, 24) or align != bits // 8 * channels:
        return None
    found = _pcm_file(data, {"format": "wav", "rate": rate}, found[0], found[1], "<", channels,
                      bits)
    if (found is not None and bits == 16
            and found.side == canonical_wav_header(rate, channels, len(found.samples))):
        found.side, found.info["layout"] = b"", "canonical"  # rebuilt from rate/channels/frames
    return found


def canonical_wav_header(rate: int, channels: int, frames: int) -> bytes:
    """The 44-byte header most tools write before 16-bit PCM (nothing after the data)."""
    size = 2 * channels * frames
    return struct.pack("<4sI4s4sIHHIIHH4sI", b"RIFF", 36 + size, b"WAVE", b"fmt ", 16,
                       WAVE_PCM, channels, rate, 2 * channels * rate, 2 * channels, 16,
                       b"data", size)


def _extended_rate(raw: bytes) -> int:
    """An 80-bit IEEE extended float (AIFF's sample rate) as an integer."""
    exponent, mantissa = struct.unpack(">HQ", raw)
    exponent &= 0x7FFF
    if exponent == 0 or mantissa == 0:
        return 0
    return int(round(mantissa * 2.0 ** (exponent - 16383 - 63)))


def _analyze_aiff(data: bytes) -> AudioFile | None:
    comm, ssnd = None, None
    aifc = data[8:12] == b"AIFC"
    for cid, start, size in _chunks(data, 12, ">"):
        if cid == b"COMM" and size >= 18:
            channels, frames, bits = struct.unpack(">hIh", data[start:start + 8])
            compression = data[start + 18:start + 22] if aifc else b"NONE"
            comm = channels, frames, bits, _extended_rate(data[start + 8:start + 18]), compression
        elif cid == b"SSND" and ssnd is None and size >= 8:
            (offset,) = struct.unpack(">I", data[start:start + 4])
            ssnd = start + 8 + offset, size - 8 - offset
    if comm is None or ssnd is None:
        return None
    channels, frames, bits, rate, compression = comm
    if bits not in (16, 24) or compression not in (b"NONE", b"sowt", b"twos") or ssnd[1] < 0:
        return None
    order = "<" if compression == b"sowt" else ">"
    info = {"format": "aiff", "rate": rate, "byteorder": "little" if order == "<" else "big"}
    return _pcm_file(data, info, ssnd[0], min(ssnd[1], bits // 8 * channels * frames), order,
                     channels, bits)


def _flac_blocks(data: bytes, start: int) -> tuple[list[tuple[int, bytes]], int]:
    """The metadata blocks (type, payload) after `fLaC` at `start` and where frames begin."""
    pos, blocks = start + 4, []
    while True:
        header = data[pos]
        size = int.from_bytes(data[pos + 1:pos + 4], "big")
        if pos + 4 + size > len(data):
            raise ValueError("truncated FLAC metadata")
        blocks.append((header & 0x7F, data[pos + 4:pos + 4 + size]))
        pos += 4 + size
        if header & 0x80:
            return blocks, pos


def _pack_flac_blocks(blocks: list[tuple[int, bytes]]) -> bytes:
    out = []
    for i, (kind, payload) in enumerate(blocks):
        last = 0x80 if i == len(blocks) - 1 else 0
        out.append(bytes([kind | last]) + len(payload).to_bytes(3, "big") + payload)
    return b"".join(out)


def _flac_bytes(side: bytes, samples: np.ndarray, rate: int, prefix: int,
                bits: int = 16) -> bytes:
    """A FLAC file of `samples` with the original metadata blocks (side) put back."""
    encoded = _flac(samples, rate, bits)
    new_blocks, frames_at = _flac_blocks(encoded, 0)
    original, _ = _flac_blocks(side, prefix)
    blocks = [new_blocks[0]] + [b for b in original if b[0] != FLAC_STREAMINFO]
    return side[:prefix] + b"fLaC" + _pack_flac_blocks(blocks) + encoded[frames_at:]


def _analyze_flac(data: bytes) -> AudioFile | None:
    import soundfile as sf

    prefix = data.find(b"fLaC")
    blocks, frames_at = _flac_blocks(data, prefix)
    with sf.SoundFile(io.BytesIO(data)) as f:
        if f.subtype not in SUBTYPES.values() or not 1 <= f.channels <= MAX_CHANNELS:
            return None
        bits = 16 if f.subtype == "PCM_16" else 24
        samples = _read(f, f.frames, bits)
        rate = f.samplerate
    side = data[:frames_at]
    info = {"format": "flac", "rate": rate, "prefix": prefix, "channels": samples.shape[1],
            "frames": len(samples), "guarantee": "sample-exact"}
    if bits == 24:
        info["bits"] = 24
    output = _flac_bytes(side, samples, rate, prefix, bits)
    return AudioFile(info, side, samples, output)


FLAC_BLOCK_RATE = 48000  # the nominal rate of a FLAC block (the file's rate is in the header)


SUBTYPES = {16: "PCM_16", 24: "PCM_24"}


def _flac(samples: np.ndarray, rate: int, bits: int) -> bytes:
    """FLAC of (frames, channels) samples at libsndfile's highest compression level (24-bit
    values are handed over in int32's top three bytes, as libsndfile expects them)."""
    import soundfile as sf

    buffer = io.BytesIO()
    data = samples.astype(np.int16) if bits == 16 else samples.astype(np.int32) << 8
    sf.write(buffer, data, rate, format="FLAC", subtype=SUBTYPES[bits], compression_level=1.0)
    return buffer.getvalue()


def _read(f, frames: int, bits: int) -> np.ndarray:
    """`frames` frames of an open soundfile as (frames, channels) int16, or int32 24-bit
    values."""
    if bits == 16:
        return f.read(frames, dtype="int16", always_2d=True)
    return f.read(frames, dtype="int32", always_2d=True) >> 8


def flac_block(samples: np.ndarray, bits: int = 16) -> bytes:
    """A block's samples (frames, channels) as a FLAC stream at libsndfile's highest
    compression level: the classical coding a block falls back to (block method 6)."""
    return _flac(samples, FLAC_BLOCK_RATE, bits)


def flac_block_samples(payload: bytes, frames: int, channels: int, bits: int = 16
                       ) -> np.ndarray:
    """The (frames, channels) samples of a FLAC block; ValueError when the payload is not
    a FLAC stream of exactly that shape and sample size."""
    import soundfile as sf

    try:
        with sf.SoundFile(io.BytesIO(payload)) as f:
            if (f.format, f.subtype, f.channels, f.frames) != ("FLAC", SUBTYPES[bits], channels,
                                                               frames):
                raise ValueError(f"a FLAC block of {f.frames} frames x {f.channels} "
                                 f"channels ({f.subtype}), not {frames} x {channels}")
            samples = _read(f, frames, bits)
    except RuntimeError as exc:  # libsndfile's errors
        raise ValueError(f"not a FLAC stream ({exc})") from None
    if samples.shape != (frames, channels):
        raise ValueError("a FLAC block shorter than its header says")
    return samples
