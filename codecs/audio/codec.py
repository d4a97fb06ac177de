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
corrected by the per-lane adaptive stage (`adaptive.py`) before it is coded: from format
10 by context mixing (`cm.py`: the quantized Laplace refined by models learned from the
block, coded bit by bit; the coder settings' "cm"), in formats 3-9 by the range coder.

Everything that sets a probability is exact (`exact_model`, `lpc`, `adaptive`): the
encoder, which knows the samples, runs the classical predictor, the network and the
adaptive stage over whole lanes at once (`_encode_block`); the decoder runs them frame by
frame (`_decode_block`); both compute the same bits and code each step's samples in the
same order: channel 0 of the running lanes, then channel 1 of the running stereo lanes.
"""

from __future__ import annotations

import copy
import struct
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
from numba import njit

from arzip import exact, jitcache, kernels
from arzip import mixing as M
from arzip.coding import LaplaceDecoder, LaplaceEncoder, laplace_bits_each
from arzip.container import Method
from arzip.errors import FormatError
from arzip.parallel import Splitter

from . import adaptive, exact_model, formats, lpc
from . import cm as audio_cm
from .adaptive import AdaptiveConfig, Cascade, _adjust2, _update2, check, run_all
from .exact_model import KERNEL_LANES, ExactWaveNet, _push_frame, _step, distribution, log_scales
from .model import AudioModelConfig, WaveNet, rate_code

CODEC_ID = "audio"
SCHEDULE = "lanes-1"
CODER_MODEL = "exact-laplace-1"
BLOCK_FRAMES = 1 << 20
CHUNK = 2048  # frames per lane: bits vs speed measured on training clips (README)
MAX_CHUNK = 16384  # longer lanes for long files (`lane_chunk`)
MIN_LANES = 8  # lanes per step that a longer lane must leave a block (`lane_chunk`)
WIDE_CHUNK = 8192  # lanes longer than this must leave MIN_WIDE_LANES
MIN_WIDE_LANES = 32
jitcache.depends(__file__, adaptive, audio_cm, exact_model, lpc, kernels, M)

PROGRESS_EVERY = 64  # steps between progress callbacks
# format 14: a block keeps the network only where it codes at least this much smaller than
# the classical stages alone (block method STAGES), which decode several times faster
NETWORK_MIN_GAIN = 0.01
PROBE_EVERY = 8  # the encoder first runs the network on every 8th lane of a block (a probe)
MAX_FRAMES = 1 << 40
LN_SCALE_MIN = exact.ln_fixed(exact.LAPLACE_SCALE_MIN, 60) / 2.0 ** 60

Progress = Callable[[int], None]


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


def lane_chunk(frames: int, min_lanes: int = MIN_LANES, wide_chunk: int = WIDE_CHUNK,
               min_wide_lanes: int = MIN_WIDE_LANES) -> int:
    """Frames per lane for a file of `frames` (per block at most BLOCK_FRAMES): CHUNK,
    doubled while a block still has `min_lanes` lanes (one group of the step kernel), up
    to `wide_chunk`, and beyond it up to MAX_CHUNK while it has `min_wide_lanes` (the
    encoder's rule; other values serve `bench/bench_audio_lane_rule.py`). Every lane
    starts cold, so longer lanes code smaller; a step's fixed cost is shared by its lanes,
    so they must stay several (the shortest files keep CHUNK), and many for the longest
    lanes (a step of few lanes costs more per lane: the README measures both)."""
    frames, chunk = min(frames, BLOCK_FRAMES), CHUNK
    while chunk * 2 <= MAX_CHUNK and frames >= chunk * 2 * (
            min_lanes if chunk * 2 <= wide_chunk else min_wide_lanes):
        chunk *= 2
    return chunk


def block_lanes(frames: int, channels: int, chunk: int) -> Lanes:
    """The lanes of a block of `frames` frames: channel pairs x equal chunks of ~`chunk`."""
    count = max(1, -(-frames // chunk))
    size = -(-frames // count)
    starts = np.arange(count) * size
    lengths = np.clip(frames - starts, 0, size)
    pairs = np.arange(0, channels, 2)
    return Lanes(channel=np.repeat(pairs, count), stereo=np.repeat(pairs + 1 < channels, count),
                 start=np.tile(starts, len(pairs)), length=np.tile(lengths, len(pairs)))


@dataclass
class Plan:
    """A block's samples in the decoder's order, each with its lane, step and channel, and
    the exact coding parameters of its quantized Laplace (base = floor(mean), scale index,
    mean fraction)."""

    lanes: Lanes
    lane: np.ndarray
    step: np.ndarray
    channel: np.ndarray
    symbols: np.ndarray
    base: np.ndarray
    index: np.ndarray
    fraction: np.ndarray


class AudioCodec:
    """Codes audio files: (frames, channels) int16 samples with a WaveNet, and the rest of
    the file as side data (see `formats`)."""

    codec_id = CODEC_ID
    structured = True  # whole files: analyze -> side data + symbols -> rebuild
    classical_methods = (Method.FLAC,)  # what a block falls back to (`classical`)
    model_methods = (Method.STAGES,)  # the model's stages without the network (format 14)
    decoder_factory = LaplaceDecoder  # what decodes a payload (sampling tempers it)

    default_cm: int | None = audio_cm.VARIANT  # what a new file is coded with

    def __init__(self, model: ExactWaveNet, block_frames: int = BLOCK_FRAMES,
                 chunk: int = CHUNK, adaptive: AdaptiveConfig | None = None,
                 cm: int | None = None) -> None:
        self.model = model
        self.block_frames, self.chunk = block_frames, chunk
        self.adaptive = adaptive or AdaptiveConfig.current()
        self.cm = cm  # the context-mixing coder's variant, or None: range-code the Laplace
        # the least gain for which a block keeps the network (`for_file` sets it for the
        # context-mixing coder), or None: every block with the network
        self.network_gain: float | None = None

    @classmethod
    def from_weights(cls, exported: dict, coder: dict | None = None) -> AudioCodec:
        network = WaveNet(AudioModelConfig(**exported["config"]))
        network.load_state_dict(exported["state_dict"])
        model = ExactWaveNet(network, exported["quant"])
        if coder is None:
            return cls(model, cm=cls.default_cm)
        cm = coder.get("cm")
        if cm is not None and cm != audio_cm.VARIANT:
            raise ValueError(f"audio context-mixing variant {cm!r}")
        if coder.get("schedule") != SCHEDULE or (cm is None
                                                 and coder.get("model") != CODER_MODEL):
            raise ValueError(f"schedule {coder.get('schedule')!r}")
        block_frames, chunk = int(coder["block_frames"]), int(coder["chunk"])
        if not 1 <= chunk <= block_frames <= BLOCK_FRAMES:
            raise ValueError(f"block_frames {block_frames}, chunk {chunk}")
        adaptive = check(AdaptiveConfig(**coder["adaptive"]))  # absent keys: cascade 1
        return cls(model, block_frames, chunk, adaptive, cm)

    def coder_settings(self) -> dict:
        """What a decoder needs besides the model (stored in the .arz header)."""
        common = {"schedule": SCHEDULE, "block_frames": self.block_frames,
                  "chunk": self.chunk, "adaptive": self.adaptive.to_dict()}
        if self.cm is None:
            return {"type": "range", "model": CODER_MODEL, "words": "u32le", **common}
        return {"type": "binary", "cm": self.cm, **common}

    def for_file(self, info: dict) -> AudioCodec:
        """This codec with the lane length chosen for a file of this header info (what the
        encoder writes into the header; a decoder reads it from there)."""
        chosen = copy.copy(self)
        chosen.chunk = min(lane_chunk(audio_shape(info)[0]), self.block_frames)
        chosen.network_gain = NETWORK_MIN_GAIN if self.cm is not None else None
        return chosen

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
        except (KeyError, ValueError, TypeError, IndexError, OverflowError, struct.error,
                RuntimeError) as exc:
            raise FormatError(f"corrupted audio layout in the header ({exc})") from None

    def plan(self, piece: np.ndarray, rate: int, network: bool = True,
             only: np.ndarray | None = None) -> Plan:
        """Every sample of one block of (frames, channels) samples with what codes it, in
        the decoder's order (per step, channel 0 of the running lanes, then channel 1 of
        the running stereo lanes); without the `network`, its head is zero (the classical
        stages alone: block method STAGES); `only`: these lanes alone (a probe)."""
        frames, channels = piece.shape
        lanes = block_lanes(frames, channels, self.chunk)
        if only is not None:
            lanes = Lanes(lanes.channel[only], lanes.stereo[only], lanes.start[only],
                          lanes.length[only])
        count, steps = len(lanes.length), lanes.steps
        t = np.arange(steps)
        running = t[None, :] < lanes.length[:, None]  # (lanes, steps)
        frame = np.minimum(lanes.start[:, None] + t[None, :], frames - 1)
        x = np.zeros((count, steps, 2))
        x[..., 0] = np.where(running, piece[frame, lanes.channel[:, None]], 0)
        pair = np.minimum(lanes.channel + 1, channels - 1)
        x[..., 1] = np.where(running & lanes.stereo[:, None], piece[frame, pair[:, None]], 0)
        signals = x.transpose(0, 2, 1).reshape(2 * count, steps)
        prediction, scale = (a.reshape(count, 2, steps).transpose(0, 2, 1)
                             for a in lpc.analyse(signals))
        m = self.model
        codes = np.full(count, rate_code(rate))
        flat = lambda a: np.ascontiguousarray(a.reshape(count * steps, -1))  # noqa: E731
        if network:
            features = m.features(flat(x), flat(prediction), flat(scale),
                                  np.repeat(lanes.stereo.astype(np.float64), steps),
                                  np.repeat(codes, steps))
            out = flat(m.forward(features.reshape(count, steps, -1)))
        else:
            out = np.zeros((count * steps, m.head_width))
        error = x - prediction
        taps = m.cfg.taps
        padded = np.concatenate([np.zeros((count, taps, 2)), error], 1)
        history = np.stack([padded[:, taps - k - 1:taps - k - 1 + steps] for k in range(taps)],
                           -1)  # (lanes, steps, 2, taps): errors t-1 ... t-taps
        logs = np.empty((count * steps, 2))
        log_scales(flat(scale), m.log_table, logs)
        net_mean, net_scale = np.zeros((count, steps, 2)), np.ones((count, steps, 2))
        for channel in (0, 1):
            mean_c, scale_c = np.empty(count * steps), np.empty(count * steps)
            distribution(out, channel, np.ascontiguousarray(history.reshape(-1, 2, taps)),
                         flat(prediction), logs, flat(error)[:, 0], m.exp_table, mean_c,
                         scale_c)
            net_mean[..., channel] = mean_c.reshape(count, steps)
            net_scale[..., channel] = scale_c.reshape(count, steps)
        means, scales = run_all(self.adaptive, lanes.length, lanes.stereo, x, net_mean,
                                net_scale)
        coded = np.stack([running, running & lanes.stereo[:, None]], -1)  # (lanes, steps, 2)
        step, channel, lane = np.nonzero(coded.transpose(1, 2, 0))
        base, index, fraction = laplace_params(means[lane, step, channel],
                                               scales[lane, step, channel])
        return Plan(lanes, lane, step, channel, x[lane, step, channel].astype(np.int64),
                    base, index, fraction)

    def _encode_block(self, piece: np.ndarray, rate: int, progress: Progress | None,
                      done: int, bits_out: np.ndarray | None
                      ) -> tuple[bytes, float, Method]:
        """(payload, ideal bits, method) of one block of (frames, channels) samples: with
        the network (MODEL), or without it (STAGES) where the network does not code the
        block `network_gain` smaller."""
        code = self._coder()
        method = Method.MODEL
        if self.network_gain is None:
            p = self.plan(piece, rate)
            payload, each = code(p, progress, done)
        else:
            alone = self.plan(piece, rate, network=False)
            if self._network_may_pay(piece, rate, alone):
                p = self.plan(piece, rate)
                payload, each = code(p, progress, done)
                stages, stages_each = code(alone, None, done)
                if len(payload) > (1.0 - self.network_gain) * len(stages):
                    p, payload, each, method = alone, stages, stages_each, Method.STAGES
            else:
                p, method = alone, Method.STAGES
                payload, each = code(p, progress, done)
        if bits_out is not None:
            bits_out[p.lanes.start[p.lane] + p.step, p.lanes.channel[p.lane] + p.channel] = each
        return payload, float(each.sum()), method

    def _network_may_pay(self, piece: np.ndarray, rate: int, alone: Plan) -> bool:
        """Whether the network, run on every PROBE_EVERY-th lane only, codes those lanes
        at least `network_gain` smaller than the stages alone (`alone`'s plan) do, in the
        coder's ideal bits (the context mixing's: it makes up for much of what the network
        adds to the Laplace's); a block of few lanes is not probed (True)."""
        count = len(alone.lanes.length)
        if count <= PROBE_EVERY:
            return True
        only = np.arange(0, count, PROBE_EVERY)
        probe = self.plan(piece, rate, only=only)
        inside = np.isin(alone.lane, only)
        renumber = np.zeros(count, dtype=np.int64)
        renumber[only] = np.arange(len(only))
        same = Plan(probe.lanes, renumber[alone.lane[inside]], alone.step[inside],
                    alone.channel[inside], alone.symbols[inside], alone.base[inside],
                    alone.index[inside], alone.fraction[inside])
        code = self._coder()
        network, stages = (float(code(q, None, 0)[1].sum()) for q in (probe, same))
        return network <= (1.0 - self.network_gain) * stages

    def _coder(self) -> Callable[[Plan, Progress | None, int], tuple[bytes, np.ndarray]]:
        """What codes a plan: the context mixing, or (formats 3-9) the range coder."""
        return self._code_cm if self.cm is not None else self._code_range

    @staticmethod
    def _code_cm(p: Plan, progress: Progress | None, done: int) -> tuple[bytes, np.ndarray]:
        """Format 10: (payload, each sample's ideal bits) of the context mixing."""
        cm = audio_cm.AudioCM(len(p.lanes.length))
        each = np.zeros(len(p.symbols))
        for first in range(0, p.lanes.steps, 1024):  # progress every 1024 steps
            part = slice(*np.searchsorted(p.step, [first, first + 1024]))
            each[part] = cm.encode(p.symbols[part], p.base[part], p.index[part],
                                   p.fraction[part], p.lane[part], p.channel[part])
            if progress:
                progress(done + part.stop)
        return cm.finish(), each

    @staticmethod
    def _code_range(p: Plan, progress: Progress | None, done: int
                    ) -> tuple[bytes, np.ndarray]:
        """Formats 3-9: (payload, each sample's ideal bits) of the range coder."""
        params = (p.base, p.index, p.fraction)
        ends = np.flatnonzero(np.diff(2 * p.step + p.channel, append=-1)) + 1  # batch ends
        encoder = LaplaceEncoder()
        for first in range(0, p.lanes.steps, PROGRESS_EVERY):  # PROGRESS_EVERY steps at a time
            part = slice(*np.searchsorted(p.step, [first, first + PROGRESS_EVERY]))
            inside = ends[(ends > part.start) & (ends <= part.stop)] - part.start
            encoder.encode_batches(p.symbols[part], *(a[part] for a in params), inside)
            if progress:
                progress(done + part.stop)
        return encoder.finish(), laplace_bits_each(p.symbols, *params)

    def _decode_block(self, payload: bytes, frames: int, channels: int, rate: int,
                      progress: Progress | None, done: int, network: bool = True) -> bytes:
        """The block's samples as interleaved little-endian int16 bytes (without the
        `network`: its head is zero and it is never run)."""
        lanes = block_lanes(frames, channels, self.chunk)
        count, m = len(lanes.length), self.model
        if self.cm is not None:
            cm = audio_cm.AudioCM(count, payload)
            decode = lambda channel, active, *params: cm.decode(*params, active, channel)  # noqa: E731
        else:
            decoder = self.decoder_factory(payload)
            decode = lambda channel, active, *params: decoder.decode(*params)  # noqa: E731
        classical = lpc.BackwardLPC(2 * count)  # rows: lane 0 ch 0, lane 0 ch 1, lane 1 ...
        state = m.new_state(count)
        cascade = Cascade(self.adaptive, count)
        fused = (_FusedChannel(cascade, m.exp_table, lanes) if self.adaptive.cascade >= 2
                 else None)
        stereo = lanes.stereo.astype(np.float64)
        codes = np.full(count, rate_code(rate), dtype=np.float64)
        errors = np.zeros((count, 2, m.cfg.taps))  # newest first
        out = np.zeros((frames, channels), dtype=np.int16)
        logs = np.empty((count, 2))
        everyone = np.arange(count)
        channels_of = [everyone, everyone[lanes.stereo]]  # the lanes each channel codes
        predicted = classical.predict()
        if (self.cm is not None and fused is not None and count <= KERNEL_LANES
                and cm.cum.all_built):  # a few lanes: every step in one compiled loop
            _decode_fused(m, state, classical, predicted, fused, cm, lanes, stereo, codes,
                          errors, logs, out, progress, done, network)
            return out.astype("<i2").tobytes()
        shortest = int(lanes.length.min())
        with Splitter(minimum=96) as split:  # its thread ends even when decoding fails
            for t in range(lanes.steps):
                if t == shortest:  # from here on some lanes have ended
                    running = lanes.length > t
                    channels_of = [everyone[running], everyone[running & lanes.stereo]]
                prediction = predicted.reshape(count, 2)
                scale = classical.scale.reshape(count, 2).copy()
                if network:
                    parts = split(lambda part: m.step(state, part), count)
                    head = parts[0] if len(parts) == 1 else np.concatenate(parts)
                elif t == 0:
                    head = np.zeros((count, m.head_width))
                log_scales(scale, m.log_table, logs)
                frame = np.zeros((count, 2))
                for channel, active in enumerate(channels_of):
                    n = len(active)
                    if not n:
                        continue
                    # every lane: views; else copies of the active lanes' rows
                    pick = slice(None) if n == count else active
                    error0 = frame[pick, 0] - prediction[pick, 0]
                    if fused is not None:  # cascades 2, 3: two compiled calls around the coder
                        fused.decode(decode, channel, active, head[pick], errors[pick],
                                     prediction[pick], logs[pick], error0, frame, out, t)
                        done += n
                        continue
                    net_mean, net_scale = np.empty(n), np.empty(n)
                    distribution(head[pick], channel, errors[pick], prediction[pick],
                                 logs[pick], error0, m.exp_table, net_mean, net_scale)
                    means, scales = cascade.adjust(channel, net_mean, net_scale, active)
                    values = decode(channel, active, *laplace_params(means, scales))
                    cascade.update(channel, values, net_mean, means, scales, active)
                    frame[pick, channel] = values
                    out[lanes.start[pick] + t, lanes.channel[pick] + channel] = values
                    done += n
                if network:
                    m.push_frame(state, frame, prediction, scale, stereo, codes)
                _push_errors(errors, frame, prediction)
                predicted = classical.advance(frame.reshape(-1), predicted)
                if progress and (t + 1) % PROGRESS_EVERY == 0:
                    progress(done)
        return out.astype("<i2").tobytes()

    def encode(self, samples: np.ndarray, progress: Progress | None = None,
               info: dict | None = None, bits_out: np.ndarray | None = None
               ) -> Iterator[tuple[bytes, bytes | None, float, Method | None]]:
        """(raw block samples, payload, ideal bits, method: MODEL or STAGES) for each
        block of (frames, channels); the payload is None for 24-bit samples (the model
        codes 16-bit ones; the engine stores such blocks as FLAC); `info` is the file's
        header info (its sample rate conditions the model);
        `bits_out` (frames, channels), when given, receives each sample's ideal bits."""
        frames, channels = samples.shape
        rate = audio_shape(info)[2] if info else 16000
        done = 0
        if info and formats.sample_bits(info) == 24:  # not the model's: FLAC (`classical`)
            for block in self.blocks(frames):
                yield formats.pack(samples[block.start:block.stop], 24), None, 0.0, None
            return
        for block in self.blocks(frames):
            piece = samples[block.start:block.stop].astype(np.int16)  # native order
            payload, bits, method = self._encode_block(
                piece, rate, progress, done,
                None if bits_out is None else bits_out[block.start:block.stop])
            done += piece.size
            yield piece.astype("<i2").tobytes(), payload, bits, method

    def classical(self, raw: bytes, info: dict) -> tuple[Method, bytes]:
        """A block's classical coding: its samples (as `encode` yields them) as FLAC, which
        the engine stores instead of the model's payload when it is smaller (never worse
        than FLAC)."""
        _, channels, _ = audio_shape(info)
        bits = formats.sample_bits(info)
        return Method.FLAC, formats.flac_block(formats.unpack(raw, channels, bits), bits)

    def decode(self, info: dict, payloads: Iterator[tuple],
               progress: Progress | None = None) -> Iterator[bytes]:
        """Decode block after block; `payloads` yields (payload, raw length[, method]) in
        order (method 3, the model, when not given; 6, FLAC; or 8, the model without its
        network) and each block's raw samples are yielded back (for the container's CRC
        check)."""
        frames, channels, rate = audio_shape(info)
        try:
            bits = formats.sample_bits(info)
        except (ValueError, TypeError):
            raise FormatError(f"corrupted header (audio sample bits {info.get('bits')!r})"
                              ) from None
        done = 0
        for block in self.blocks(frames):
            payload, raw_len, *method = next(payloads, (None, 0))
            if payload is None:
                raise FormatError("truncated file (audio blocks missing)")
            if raw_len != bits // 8 * len(block) * channels:
                raise FormatError("corrupted block header (audio block length)")
            if method and method[0] == Method.FLAC:
                try:
                    samples = formats.flac_block_samples(payload, len(block), channels, bits)
                except ValueError as exc:
                    raise FormatError(f"corrupted block payload ({exc})") from None
                if progress:
                    progress(done + samples.size)
                yield formats.pack(samples, bits)
            elif bits != 16:
                raise FormatError("corrupted file (a model block of 24-bit samples)")
            else:
                network = not (method and method[0] == Method.STAGES)
                yield self._decode_block(payload, len(block), channels, rate, progress, done,
                                         network)
            done += len(block) * channels


class _FusedChannel:
    """One channel of a decoder step with cascade 2 or 3, as two compiled calls around the
    coder's decoding (range coder or context mixing; `_channel_params`, `_channel_learn`):
    the same operations in the same order as `distribution`, `Cascade.adjust`,
    `laplace_params` and `Cascade.update`."""

    def __init__(self, cascade: Cascade, exp_table: np.ndarray, lanes: Lanes) -> None:
        cfg = cascade.cfg
        self.state, self.taps, self.exp_table = cascade.arrays(), cfg.taps, exp_table
        self.rates = (cfg.long_rate, cfg.rate, cfg.scale_decay, cfg.ratio_max)
        count = len(lanes.length)
        self.in1 = np.zeros((count, cfg.long_taps))
        self.in2 = np.zeros((count, cfg.taps + cfg.cross))
        self.predictions = np.zeros((count, cascade.width))
        self.start, self.channel = lanes.start.astype(np.int64), lanes.channel.astype(np.int64)
        self.log_table = exact.log_table()

    def decode(self, decode: Callable, channel: int, active: np.ndarray,
               head: np.ndarray, errors: np.ndarray, prediction: np.ndarray,
               logs: np.ndarray, error0: np.ndarray, frame: np.ndarray, out: np.ndarray,
               t: int) -> None:
        """Decode `channel` of frame t of the `active` lanes (head ... error0: their rows)
        into frame (lanes, 2) and out (frames, channels), and learn from it."""
        n = len(active)
        net_mean, means, scales = np.empty(n), np.empty(n), np.empty(n)
        base, index, fraction = np.empty(n, np.int64), np.empty(n, np.int64), np.empty(n, np.int64)
        _channel_params(head, channel, errors, prediction, logs, error0, self.exp_table,
                        *self.state, active, self.taps, self.log_table, LN_SCALE_MIN,
                        exact.LAPLACE_SCALES, exact.LAPLACE_FRACTIONS, net_mean, means, scales,
                        self.in1, self.in2, self.predictions, base, index, fraction)
        values = decode(channel, active, base, index, fraction)
        _channel_learn(*self.state, channel, active, values.astype(np.float64), net_mean,
                       means, scales, self.in1, self.in2, self.predictions, *self.rates,
                       frame, out, self.start, self.channel, t)


def _decode_fused(m: ExactWaveNet, state: dict, classical: lpc.BackwardLPC,
                  predicted: np.ndarray, fused: _FusedChannel, cm: audio_cm.AudioCM,
                  lanes: Lanes, stereo: np.ndarray, codes: np.ndarray, errors: np.ndarray,
                  logs: np.ndarray, out: np.ndarray, progress: Progress | None,
                  done: int, network: bool = True) -> None:
    """`_decode_block`'s steps for a block of at most KERNEL_LANES lanes with cascade 2 or 3 and
    context mixing, PROGRESS_EVERY steps per compiled call (`_decode_steps`): the same
    operations in the same order as the Python loop, without its calls between them (a
    short file's decoding was half Python)."""
    c, f = classical, fused
    lengths = lanes.length.astype(np.int64)
    per_lane = np.where(lanes.stereo, 2, 1)
    head = np.zeros((len(lengths), m.head_width))
    predicted = np.ascontiguousarray(predicted)
    spare = np.empty_like(predicted)
    where = np.array([c.pos, c.t], dtype=np.int64)
    for first in range(0, lanes.steps, PROGRESS_EVERY):
        last = min(first + PROGRESS_EVERY, lanes.steps)
        ok = _decode_steps(
            first, last, lengths, lanes.stereo, *m._packed, state["inputs"], state["queues"],
            m.layers, len(m.residual), m._scales, m.tanh, head,
            c.buffer, where, c._window, c.a, c.scale, predicted, spare,
            stereo, codes, m.log_table, m.exp_table, errors, logs,
            *f.state, f.taps, LN_SCALE_MIN, exact.LAPLACE_SCALES, exact.LAPLACE_FRACTIONS,
            f.in1, f.in2, f.predictions, *f.rates, f.start, f.channel,
            cm.cum.table, cm.rows.shift, cm.stream.state, cm.stream.out, cm.stream.data,
            cm.no_cost, cm.table, cm.counts, cm.weights, cm.apm1, cm.apm2, cm.history,
            cm.channel_ids, out, network)
        state["t"] = last
        if not ok:
            raise FormatError(audio_cm.OUT_OF_RANGE)
        if progress:
            progress(done + int((np.minimum(lengths, last) * per_lane).sum()))
    c.pos, c.t = int(where[0]), int(where[1])


@njit(cache=True, nogil=True)
def _decode_steps(t0, t1, lengths, stereo_lanes, layers, weights, weights_t, factors, inputs,
                  queues,
                  n_layers, residuals, net_scales, tanh, head, buffer, where, window, a,
                  lpc_scale, predicted, spare, stereo, codes, log_table, exp_table, errors,
                  logs, h1, w1, h2, w2, ratio, current, seen, ols_taps, ols_forget, cov,
                  rhs, ow, chol, ox, gate, samples, taps, ln_scale_min,
                  scales_count, fractions, in1, in2, predictions, rate1, rate2, decay,
                  ratio_max, start, lane_channel, cum, shifts, coder, cm_out, data, cost,
                  table, counts, cm_weights, apm1, apm2, history, channel_ids, out, network):
    """Steps t0..t1-1 of `_decode_block` (network step, then per channel the cascade's
    parameters, the context mixing's decoding and the cascade's learning, then the
    frame's features, errors and linear prediction; without the `network`, head stays as
    given: zero); False on a corrupted payload."""
    count = lengths.shape[0]
    frame = np.zeros((count, 2))
    running = np.empty(count, np.int64)
    for t in range(t0, t1):
        prediction = predicted.reshape(count, 2)
        scale = lpc_scale.reshape(count, 2).copy()
        if network:
            _step(layers, weights, weights_t, factors, inputs, queues, t, 0, count, n_layers,
                  residuals, net_scales, tanh, head)
        log_scales(scale, log_table, logs)
        frame[:] = 0.0
        for channel in range(2):
            n = 0
            for lane in range(count):
                if lengths[lane] > t and (channel == 0 or stereo_lanes[lane]):
                    running[n] = lane
                    n += 1
            if n == 0:
                continue
            active = running[:n].copy()
            error0 = np.empty(n)
            for i in range(n):
                error0[i] = frame[active[i], 0] - prediction[active[i], 0]
            net_mean, means, scales = np.empty(n), np.empty(n), np.empty(n)
            base, index = np.empty(n, np.int64), np.empty(n, np.int64)
            fraction, values = np.empty(n, np.int64), np.empty(n, np.int64)
            _channel_params(head[active], channel, errors[active], prediction[active],
                            logs[active], error0, exp_table, h1, w1, h2, w2, ratio, current,
                            seen, ols_taps, ols_forget, cov, rhs, ow, chol, ox, gate,
                            samples, active, taps, log_table, ln_scale_min, scales_count,
                            fractions, net_mean, means, scales, in1, in2, predictions, base,
                            index, fraction)
            if not audio_cm._code(True, values, base, index, fraction, active,
                                  channel_ids[channel, :n], cum, shifts, coder, cm_out, data,
                                  cost, table, counts, cm_weights, apm1, apm2, history):
                return False
            _channel_learn(h1, w1, h2, w2, ratio, current, seen, ols_taps, ols_forget, cov,
                           rhs, ow, chol, ox, gate, samples, channel, active,
                           values.astype(np.float64), net_mean, means, scales, in1, in2,
                           predictions, rate1, rate2, decay, ratio_max, frame, out, start,
                           lane_channel, t)
        if network:
            _push_frame(frame, prediction, scale, stereo, codes, log_table, inputs)
        _push_errors(errors, frame, prediction)
        where[0] = lpc.make_room(buffer, where[0])
        lpc._step_advance(buffer, where[0], where[1], window, a, frame.reshape(-1),
                          predicted, lpc_scale, spare)
        where[0] += 1
        where[1] += 1
        predicted[:] = spare
    return True


@njit(cache=True, nogil=True)
def _push_errors(errors: np.ndarray, frame: np.ndarray, prediction: np.ndarray) -> None:
    """errors (lanes, 2, taps), newest first, move on by one frame: the newest is frame -
    prediction (lanes, 2)."""
    for lane in range(errors.shape[0]):
        for c in range(2):
            for k in range(errors.shape[2] - 1, 0, -1):
                errors[lane, c, k] = errors[lane, c, k - 1]
            errors[lane, c, 0] = frame[lane, c] - prediction[lane, c]


@njit(cache=True, nogil=True)
def _channel_params(head: np.ndarray, channel: int, errors: np.ndarray, prediction: np.ndarray,
                    logs: np.ndarray, error0: np.ndarray, exp_table: np.ndarray, h1: np.ndarray,
                    w1: np.ndarray, h2: np.ndarray, w2: np.ndarray, ratio: np.ndarray,
                    current: np.ndarray, seen: np.ndarray, ols_taps: np.ndarray,
                    ols_forget: np.ndarray, cov: np.ndarray, rhs: np.ndarray, ow: np.ndarray,
                    chol: np.ndarray, ox: np.ndarray, gate: np.ndarray, samples: np.ndarray,
                    active: np.ndarray, taps: int,
                    log_table: np.ndarray, ln_scale_min: float, scales_count: int,
                    fractions: int, net_mean: np.ndarray, means: np.ndarray,
                    scales: np.ndarray, in1: np.ndarray, in2: np.ndarray,
                    predictions: np.ndarray, base: np.ndarray, index: np.ndarray,
                    fraction: np.ndarray) -> None:
    """The network's means (net_mean) and the cascade's means and scales of `channel` for
    the `active` lanes, then their exact coding parameters (base, index, fraction)."""
    distribution(head, channel, errors, prediction, logs, error0, exp_table, net_mean, scales)
    for i in range(net_mean.shape[0]):
        means[i] = net_mean[i]
    _adjust2(h1, w1, h2, w2, ratio, current, seen, ols_taps, ols_forget, cov, rhs, ow, chol,
             ox, gate, samples, channel, active, taps, means, scales, in1, in2, predictions)
    kernels.laplace_params(means, scales, log_table, ln_scale_min, scales_count, fractions,
                           base, index, fraction)


@njit(cache=True, nogil=True)
def _channel_learn(h1: np.ndarray, w1: np.ndarray, h2: np.ndarray, w2: np.ndarray,
                   ratio: np.ndarray, current: np.ndarray, seen: np.ndarray,
                   ols_taps: np.ndarray, ols_forget: np.ndarray, cov: np.ndarray,
                   rhs: np.ndarray, ow: np.ndarray, chol: np.ndarray, ox: np.ndarray,
                   gate: np.ndarray, samples: np.ndarray, channel: int,
                   active: np.ndarray, values: np.ndarray, net_mean: np.ndarray,
                   means: np.ndarray, scales: np.ndarray, in1: np.ndarray, in2: np.ndarray,
                   predictions: np.ndarray, rate1: float, rate2: float, decay: float,
                   ratio_max: float, frame: np.ndarray, out: np.ndarray, start: np.ndarray,
                   lane_channel: np.ndarray, t: int) -> None:
    """The cascade learns from the decoded `values` of the `active` lanes, which go into
    frame (lanes, 2) and out (frames, channels)."""
    _update2(h1, w1, h2, w2, ratio, current, seen, ols_taps, ols_forget, cov, rhs, ow, chol,
             ox, gate, samples, channel, active, values, net_mean, means, scales, in1, in2,
             predictions, rate1, rate2, decay, ratio_max)
    for n in range(active.shape[0]):
        lane = active[n]
        frame[lane, channel] = values[n]
        out[start[lane] + t, lane_channel[lane] + channel] = values[n]


def laplace_params(means: np.ndarray, scales: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The exact coding parameters (floor of the mean, scale index, mean fraction)."""
    n = len(means)
    base, index, fraction = (np.empty(n, dtype=np.int64) for _ in range(3))
    kernels.laplace_params(np.ascontiguousarray(means, dtype=np.float64),
                           np.ascontiguousarray(scales, dtype=np.float64), exact.log_table(),
                           LN_SCALE_MIN, exact.LAPLACE_SCALES, exact.LAPLACE_FRACTIONS,
                           base, index, fraction)
    return base, index, fraction


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
