"""Audio codec: 16-bit samples coded by a WaveNet over lanes that run in lockstep.

The signal is cut into blocks of at most `block_frames` frames (bounded memory: one
block's lanes are in memory at a time); each block is one range-coder payload whose raw
data is the block's interleaved little-endian samples, so the container checks every
block's CRC. A block's channels are taken in pairs (a stereo stream, or a mono stream for
an odd last channel) and each stream is cut into lanes of about `chunk` frames; all lanes
of the block are one batch, and a step codes frame t of every lane: channel 0 of all
lanes, then channel 1 of the stereo lanes given their channel 0. Every lane starts from
silence (zeros before its first frame), the price of decoding in parallel
(measured in the README). The layout is a pure function of frames, channels and the two
settings recorded in the header. The network's distribution of each sample is then
corrected by the per-lane adaptive stage (`adaptive.py`) before it is coded. Encoder and
decoder run one schedule, `_run`: the same steps, the same shapes, one torch thread.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from arzip.coding import LaplaceDecoder, LaplaceEncoder, laplace_bits_each
from arzip.errors import FormatError
from arzip.runtime import single_thread

from . import formats
from .adaptive import AdaptiveConfig, Cascade
from .model import AudioModelConfig, WaveNet, rate_code
from .stepper import WaveNetStep

CODEC_ID = "audio"
SCHEDULE = "lanes-1"
BLOCK_FRAMES = 1 << 20
CHUNK = 2048  # frames per lane: bits vs speed measured on training clips (README)
PROGRESS_EVERY = 64  # steps between progress callbacks
MAX_FRAMES = 1 << 40
MEAN_MIN, MEAN_MAX = -40000.0, 40000.0
REPORT_BUFFER = 1 << 16

Progress = Callable[[int], None]
# called per step and channel with (channel, step, lanes (n,), means (n,), scales (n,));
# codes (encoder) or decodes (decoder) those samples and returns them (n,)
CodeFn = Callable[[int, int, np.ndarray, np.ndarray, np.ndarray], np.ndarray]


@dataclass
class Lanes:
    """Which samples of a block each lane codes: frames start..start+length-1 of
    channel `channel` (and `channel + 1` when stereo)."""

    channel: np.ndarray
    stereo: np.ndarray
    start: np.ndarray
    length: np.ndarray

    @property
    def steps(self) -> int:
        return int(self.length.max()) if len(self.length) else 0


def block_lanes(frames: int, channels: int, chunk: int) -> Lanes:
    """The lanes of a block of `frames` frames: channel pairs x equal chunks of ~`chunk`."""
    count = max(1, -(-frames // chunk))
    size = -(-frames // count)
    starts = np.arange(count) * size
    lengths = np.clip(frames - starts, 0, size)
    pairs = np.arange(0, channels, 2)
    return Lanes(channel=np.repeat(pairs, count), stereo=np.repeat(pairs + 1 < channels, count),
                 start=np.tile(starts, len(pairs)), length=np.tile(lengths, len(pairs)))


class AudioCodec:
    """Codes audio files: (frames, channels) int16 samples with a WaveNet, and the rest of
    the file as side data (see `formats`)."""

    codec_id = CODEC_ID
    structured = True  # whole files: analyze -> side data + symbols -> rebuild

    def __init__(self, model: WaveNet, block_frames: int = BLOCK_FRAMES, chunk: int = CHUNK,
                 adaptive: AdaptiveConfig | None = None) -> None:
        self.model = model.eval()
        self.block_frames, self.chunk = block_frames, chunk
        self.adaptive = adaptive or AdaptiveConfig()

    @classmethod
    def from_weights(cls, exported: dict, coder: dict | None = None) -> AudioCodec:
        model = WaveNet(AudioModelConfig(**exported["config"]))
        model.load_state_dict(exported["state_dict"])
        if coder is None:
            return cls(model)
        if coder.get("schedule") != SCHEDULE or coder.get("model") != "quantized-laplace":
            raise ValueError(f"schedule {coder.get('schedule')!r}")
        block_frames, chunk = int(coder["block_frames"]), int(coder["chunk"])
        if not 1 <= chunk <= block_frames <= BLOCK_FRAMES:
            raise ValueError(f"block_frames {block_frames}, chunk {chunk}")
        adaptive = AdaptiveConfig(**coder["adaptive"])
        if not 1 <= adaptive.taps <= 256:
            raise ValueError(f"adaptive taps {adaptive.taps}")
        return cls(model, block_frames, chunk, adaptive)

    def coder_settings(self) -> dict:
        """What a decoder needs besides the model (stored in the .arz header)."""
        return {"type": "range", "model": "quantized-laplace", "words": "u32le",
                "schedule": SCHEDULE, "block_frames": self.block_frames, "chunk": self.chunk,
                "adaptive": self.adaptive.to_dict()}

    def blocks(self, frames: int) -> list[range]:
        return [range(s, min(frames, s + self.block_frames))
                for s in range(0, frames, self.block_frames)]

    @staticmethod
    def analyze(data: bytes) -> formats.AudioFile | None:
        """The file split into header info, side data and samples, or None (not for us)."""
        return formats.analyze(data)

    @staticmethod
    def known_format(data: bytes) -> bool:
        """Whether the file is audio at all (else its magic bytes matched by chance)."""
        return formats.identify(data) is not None

    @staticmethod
    def restore(info: dict, side: bytes, blocks: Iterable[bytes]) -> Iterator[bytes]:
        """The file from its side data and the decoded blocks, piece by piece: WAV and
        AIFF block by block (bounded memory), FLAC in one piece."""
        _, channels, _ = audio_shape(info)
        try:
            yield from formats.restore(info, side, channels, blocks)
        except (KeyError, ValueError, TypeError, IndexError, RuntimeError) as exc:
            raise FormatError(f"corrupted audio layout in the header ({exc})") from None

    def _run(self, lanes: Lanes, frames: int, channels: int, rate: int, code: CodeFn,
             progress: Progress | None, done: int) -> bytes:
        """The shared schedule of one block: per step, probabilities -> `code`.

        Returns the block's samples as interleaved little-endian int16 bytes; `progress`
        gets the number of samples coded so far (from `done`)."""
        state = WaveNetStep(self.model, torch.from_numpy(lanes.stereo.astype(np.float32)),
                            torch.full((len(lanes.stereo),), rate_code(rate)))
        cascade = Cascade(self.adaptive, len(lanes.stereo))
        out = np.zeros((frames, channels), dtype=np.int16)
        frame = torch.zeros(len(lanes.stereo), 2)
        for t in range(lanes.steps):
            running = lanes.length > t
            state.outputs()
            frame.zero_()
            for channel in (0, 1):
                active = np.flatnonzero(running & (lanes.stereo if channel else True))
                if not len(active):
                    continue
                mean, scale = state.distribution(channel, frame[:, 0] if channel else None)
                net_mean = mean.numpy()[active].astype(np.float64)
                means, scales = cascade.adjust(channel, net_mean,
                                               scale.numpy()[active].astype(np.float64), active)
                means = np.clip(means, MEAN_MIN, MEAN_MAX)
                values = code(channel, t, active, means, scales)
                cascade.update(channel, values.astype(np.float64), net_mean, means, scales, active)
                frame[torch.from_numpy(active), channel] = torch.from_numpy(
                    values.astype(np.float32))
                out[lanes.start[active] + t, lanes.channel[active] + channel] = values
                done += len(active)
            state.push(frame)
            if progress and (t + 1) % PROGRESS_EVERY == 0:
                progress(done)
        return out.astype("<i2").tobytes()

    def encode(self, samples: np.ndarray, progress: Progress | None = None,
               info: dict | None = None, bits_out: np.ndarray | None = None
               ) -> Iterator[tuple[bytes, bytes, float]]:
        """(raw block samples, payload, ideal bits) for each block of (frames, channels);
        `info` is the file's header info (its sample rate conditions the model);
        `bits_out` (frames, channels), when given, receives each sample's ideal bits."""
        frames, channels = samples.shape
        rate = audio_shape(info)[2] if info else 16000
        done = 0
        with single_thread(), torch.no_grad():
            for block in self.blocks(frames):
                piece = samples[block.start:block.stop].astype(np.int16)  # native order
                lanes = block_lanes(len(piece), channels, self.chunk)
                coder = _BlockEncoder(piece, lanes, None if bits_out is None
                                      else bits_out[block.start:block.stop])
                raw = self._run(lanes, len(piece), channels, rate, coder, progress, done)
                done += piece.size
                yield raw, coder.encoder.finish(), coder.bits

    def decode(self, info: dict, payloads: Iterator[tuple[bytes, int]],
               progress: Progress | None = None) -> Iterator[bytes]:
        """Decode block after block; `payloads` yields (payload, raw length) in order and
        each block's raw samples are yielded back (for the container's CRC check)."""
        frames, channels, rate = audio_shape(info)
        done = 0
        with single_thread(), torch.no_grad():
            for block in self.blocks(frames):
                payload, raw_len = next(payloads, (None, 0))
                if payload is None:
                    raise FormatError("truncated file (audio blocks missing)")
                if raw_len != 2 * len(block) * channels:
                    raise FormatError("corrupted block header (audio block length)")
                lanes = block_lanes(len(block), channels, self.chunk)
                coder = _BlockDecoder(payload)
                yield self._run(lanes, len(block), channels, rate, coder, progress, done)
                done += len(block) * channels


def audio_shape(info: dict) -> tuple[int, int, int]:
    """(frames, channels, rate) from the header, validated."""
    try:
        shape = int(info["frames"]), int(info["channels"]), int(info["rate"])
    except (KeyError, TypeError, ValueError):
        raise FormatError("corrupted header (audio size missing)") from None
    if not (0 <= shape[0] <= MAX_FRAMES and 1 <= shape[1] <= formats.MAX_CHANNELS
            and 0 <= shape[2] < 1 << 32):
        raise FormatError(f"corrupted header (audio shape {shape})")
    return shape


class _BlockEncoder:
    """The encoder's CodeFn: codes the known samples and counts their ideal bits."""

    def __init__(self, samples: np.ndarray, lanes: Lanes,
                 bits_out: np.ndarray | None = None) -> None:
        self.samples, self.lanes, self.bits_out = samples, lanes, bits_out
        self.encoder = LaplaceEncoder()
        # (symbol, mean, scale, frame, channel) of what was coded, for the ideal-bits
        # report: a fixed buffer, summed when full (bounded memory, few numpy calls a step)
        self._coded, self._count, self._bits = np.empty((5, REPORT_BUFFER)), 0, 0.0

    def __call__(self, channel: int, t: int, active: np.ndarray, means: np.ndarray,
                 scales: np.ndarray) -> np.ndarray:
        rows = self.lanes.start[active] + t
        columns = self.lanes.channel[active] + channel
        symbols = self.samples[rows, columns].astype(np.int64)
        self.encoder.encode(symbols, means, scales)
        n = len(symbols)
        if self._count + n > REPORT_BUFFER:
            self._flush()
        if n > REPORT_BUFFER:  # more lanes than the buffer holds
            self._add(np.stack([symbols, means, scales, rows, columns]))
        else:
            self._coded[:, self._count:self._count + n] = symbols, means, scales, rows, columns
            self._count += n
        return symbols

    def _add(self, coded: np.ndarray) -> None:
        bits = laplace_bits_each(*coded[:3])
        self._bits += float(bits.sum())
        if self.bits_out is not None:
            self.bits_out[coded[3].astype(np.int64), coded[4].astype(np.int64)] = bits

    def _flush(self) -> None:
        self._add(self._coded[:, :self._count])
        self._count = 0

    @property
    def bits(self) -> float:
        """Ideal bits of everything coded so far (for the report)."""
        self._flush()
        return self._bits


class _BlockDecoder:
    """The decoder's CodeFn: decodes the samples from one block's payload."""

    def __init__(self, payload: bytes) -> None:
        self.decoder = LaplaceDecoder(payload)

    def __call__(self, channel: int, t: int, active: np.ndarray, means: np.ndarray,
                 scales: np.ndarray) -> np.ndarray:
        return self.decoder.decode(means, scales)
