"""Image codec: pixels coded along the model's wavefront, one range-coded payload per block.

The image's wavefront steps are cut into blocks of at most `block_subpixels` subpixels
(whole steps, a pure function of height, width and that limit, recorded in the header).
Each block is its own range-coder payload whose raw data is the block's subpixels in step
order, so the container checks every block's CRC; the network state runs on across
blocks. The network and its mixture run in exact integer arithmetic (`exact_model`): the
encoder, which knows every pixel, computes ENCODE_STEPS wavefront steps at once (the
next ones in a second thread while the current ones are coded), the decoder one step at a
time (from format 16 one run of a step's rows at a time, a run ahead of its coder in a
second thread: `_Pipeline`), and both get the same integers. The adaptive residual mixer
and the coder then run step by step (from format 16 run by run) on both sides (`_run`).
From format 9 the coder is binary context mixing (`cm`: the network's and the residual
mixture's distributions mixed with models learned from the image; the coder settings'
"cm" names its variant); formats 3-8 range-code the residual mixture's 256-bin distribution.
"""

from __future__ import annotations

import contextlib
import struct
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict

import numpy as np

from arzip.coding import CategoricalDecoder, CategoricalEncoder, ideal_bits_each
from arzip.container import Method
from arzip.errors import FormatError
from arzip.parallel import Splitter, done, threads

from . import cm as image_cm
from . import formats
from .adaptive import AdaptiveConfig, ResidualMixer
from .config import SLOPE
from .exact_model import ExactMixture, ExactPixelCNN, weights_view
from .wavefront import Wavefront, active_rows, step_count, step_parts

CODEC_ID = "image"
BLOCK_SUBPIXELS = 1 << 20
PROGRESS_EVERY = 32  # steps between progress callbacks
ENCODE_STEPS = 4  # wavefront steps the encoder's network computes at once
PART_ROWS = 32  # format 16: each step coded in two runs of rows split at a multiple of this

Progress = Callable[[int], None]
# called per step and channel with (channel, the network's frequencies (n, 256), the
# residual mixture's probabilities (n, 256), rows, cols, the step's pixels (n, 3));
# codes (encoder) or decodes (decoder) those subpixels and returns them (n,)
CodeFn = Callable[[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray],
                  np.ndarray]


def block_steps(height: int, width: int, channels: int, limit: int) -> list[range]:
    """The wavefront steps of each block: whole steps, at most `limit` subpixels a block."""
    blocks, start, count = [], 0, 0
    for t in range(step_count(height, width)):
        lo, hi = active_rows(t, height, width)
        n = max(0, hi - lo + 1) * channels
        if count and count + n > limit:
            blocks.append(range(start, t))
            start, count = t, 0
        count += n
    if step_count(height, width):
        blocks.append(range(start, step_count(height, width)))
    return blocks


class ImageCodec:
    """Codes image files: (H, W, C) uint8 pixels (C = 3, or 1 for grayscale) with a
    PixelCNN, and the rest of the file as side data (see `formats`)."""

    codec_id = CODEC_ID
    structured = True  # whole files: analyze -> side data + symbols -> rebuild
    classical_methods = (Method.WEBP,)  # a whole image may be stored as WebP instead
    decoder_factory = CategoricalDecoder  # what decodes a payload (sampling tempers it)
    weights_as_arrays = True  # coding runs no torch: the model file is read without it

    default_cm: int | None = image_cm.VARIANT  # what a new file is coded with

    def __init__(self, model: ExactPixelCNN, block_subpixels: int = BLOCK_SUBPIXELS,
                 adaptive: AdaptiveConfig | None = None, cm: int | None = None,
                 part_rows: int | None = None) -> None:
        self.model = model
        self.block_subpixels = block_subpixels
        self.adaptive = adaptive or AdaptiveConfig()
        self.cm = cm  # the context-mixing coder's variant, or None: range-code the mixture
        self.part_rows = part_rows  # format 16: steps coded in two runs (`step_parts`)

    @classmethod
    def from_weights(cls, exported: dict, coder: dict | None = None) -> ImageCodec:
        model = ExactPixelCNN(weights_view(exported["config"], exported["state_dict"]),
                              exported["quant"])
        if coder is None:
            return cls(model, cm=cls.default_cm, part_rows=PART_ROWS)
        if coder.get("schedule") != "wavefront-2":
            raise ValueError(f"schedule {coder.get('schedule')!r}")
        block_subpixels = int(coder["block_subpixels"])
        if block_subpixels < 1:
            raise ValueError(f"block_subpixels {block_subpixels}")
        adaptive = dict(coder["adaptive"])
        adaptive["error_edges"] = tuple(adaptive["error_edges"])
        cm = coder.get("cm")
        if cm is not None and cm not in image_cm.VARIANTS:
            raise ValueError(f"image context-mixing variant {cm!r}")
        part_rows = coder.get("part_rows")
        if part_rows is not None and (type(part_rows) is not int or part_rows < 1):
            raise ValueError(f"part_rows {part_rows!r}")
        return cls(model, block_subpixels, AdaptiveConfig(**adaptive), cm, part_rows)

    def coder_settings(self) -> dict:
        """What a decoder needs besides the model (stored in the .arz header)."""
        common = {"schedule": "wavefront-2", "block_subpixels": self.block_subpixels,
                  "adaptive": asdict(self.adaptive)}
        if self.part_rows is not None:
            common["part_rows"] = self.part_rows
        if self.cm is None:
            return {"type": "range", "model": "categorical", "words": "u32le", **common}
        return {"type": "binary", "cm": self.cm, **common}

    def blocks(self, height: int, width: int, channels: int) -> list[range]:
        return block_steps(height, width, channels, self.block_subpixels)

    @staticmethod
    def analyze(data: bytes) -> formats.ImageFile | None:
        """The file split into header info, side data and pixels, or None (not for us)."""
        found = formats.analyze(bytes(data))  # (a memory map of the file: images are small)
        if found is not None:
            found.info["channels"] = int(found.pixels.shape[2])
        return found

    @staticmethod
    def known_format(data: bytes) -> bool:
        """Whether the file is an image at all (else its magic bytes matched by chance)."""
        return formats.identify(bytes(data)) is not None

    @staticmethod
    def restore(info: dict, side: bytes, blocks: Iterable[bytes]) -> Iterator[bytes]:
        """The file from its side data and the decoded blocks (in one piece: every format
        needs all pixels before its first byte can be written)."""
        height, width, channels = image_shape(info)
        pixels = pixels_from_blocks(list(blocks), height, width, channels)
        try:
            yield formats.rebuild(info, side, pixels)
        except (KeyError, ValueError, TypeError, IndexError, OverflowError, struct.error) as exc:
            raise FormatError(f"corrupted image layout in the header ({exc})") from None

    @staticmethod
    def _spans(wave: Wavefront, steps: range, channels: int, known: bool,
               pool: ThreadPoolExecutor | None) -> Iterator[tuple]:
        """(t0, t1, rows, cols, mixture, pixels, frequencies or None) of each run of steps
        the network computes at once; with a `pool` (the encoder) the next run is computed
        there while the caller codes the current one."""
        size = wave.span if known else 1
        starts = range(steps.start, steps.stop, size)

        def compute(t0: int) -> tuple:
            t1 = min(steps.stop, t0 + size)
            rows, cols, params = wave.params(t0, t1)
            mixture = ExactMixture(params, wave.mixtures)
            pixels = (wave.get_pixels(rows, cols) if known
                      else np.zeros((len(rows), 3), dtype=np.uint8))
            freqs = [mixture.pmf(c, pixels) for c in range(channels)] if known else None
            return t0, t1, rows, cols, mixture, pixels, freqs

        if pool is None:
            yield from map(compute, starts)
            return
        pending = None
        for i, t0 in enumerate(starts):
            current = pending.result() if pending else compute(t0)
            pending = pool.submit(compute, starts[i + 1]) if i + 1 < len(starts) else None
            yield current

    def _units(self, wave: Wavefront, steps: range, channels: int, known: bool,
               pool: ThreadPoolExecutor | None) -> Iterator[tuple]:
        """(step, whether the step's last run, rows, cols, mixture, pixels, frequencies or
        None) of each run of rows coded at once, in coding order: the runs of each step
        (`step_parts`), from the network's spans of steps (`_spans`)."""
        for t0, t1, rows, cols, mixture, pixels, freqs in self._spans(wave, steps, channels,
                                                                      known, pool):
            start = 0
            for t in range(t0, t1):
                parts = step_parts(t, wave.height, wave.width, self.part_rows)
                for k, (a, b) in enumerate(parts):
                    part = slice(start, start + b - a)
                    start += b - a
                    yield (t, k == len(parts) - 1, rows[part], cols[part], mixture,
                           pixels[part], None if freqs is None else [f[part] for f in freqs])

    def _run(self, wave: Wavefront, steps: range, channels: int, code: CodeFn,
             progress: Progress | None, adapt: ResidualMixer, units: Iterator[tuple],
             known: bool) -> bytes:
        """The shared schedule: for each run of a step's rows (`_units`; one run a step
        before format 16) and each subpixel, probabilities -> `code`.

        The network's integer frequencies of a run's pixels, channel after channel, are
        mixed with the image's adaptive statistics, coded, and learned from; the
        frequencies a unit does not bring (the decoder's: it learns channel c - 1 first)
        come from its mixture. Returns the steps' subpixels in coding order (a step's
        pixels in row order, pixel-interleaved); `progress` gets the number of subpixels
        coded so far. Decoding (`known` False), a run's pixels are recorded in the
        wavefront before the next unit is asked for."""
        raw = []
        for t, last, rows, cols, mixture, pixel, freqs in units:
            n = len(rows)
            for channel in range(channels):
                f = (freqs[channel] if freqs is not None and channel < len(freqs)
                     else mixture.pmf(channel, pixel))
                mixed = adapt.mix(channel, f, rows)
                pixel[:, channel] = code(channel, f, mixed, rows, cols, pixel)
                adapt.update(pixel[:, channel].astype(np.int64))
            raw.append(pixel[:, :channels].tobytes())
            if channels == 1:
                pixel[:, 1:] = pixel[:, :1]  # grayscale: the model sees (L, L, L)
            if not known:
                wave.set_pixels(rows, cols, pixel)
            wave.done += n * channels
            if progress and last and (t + 1) % PROGRESS_EVERY == 0:
                progress(wave.done)
        return b"".join(raw)

    def encode(self, pixels: np.ndarray, progress: Progress | None = None,
               info: dict | None = None, bits_out: np.ndarray | None = None
               ) -> Iterator[tuple[bytes, bytes, float]]:
        """(raw subpixels in step order, payload, ideal bits) for each block of the image
        (`info`, the file's header info, adds nothing the pixels do not say); `bits_out`
        (H, W, C), when given, receives each subpixel's ideal bits (likelihood maps)."""
        height, width, channels = pixels.shape
        wave = Wavefront(self.model, height, width, ENCODE_STEPS)
        seen = pixels if channels == 3 else np.repeat(pixels, 3, axis=2)
        wave.set_pixels(*np.indices((height, width)).reshape(2, -1), seen.reshape(-1, 3))
        adapt = ResidualMixer(self.adaptive, height)
        cm = image_cm.ImageCM(height, width, channels, self.cm) if self.cm is not None else None
        with ThreadPoolExecutor(1) as pool:
            for steps in self.blocks(height, width, channels):
                block = (_BlockEncoder(pixels, bits_out) if cm is None
                         else _CMBlock(cm, wave.image(), None, bits_out))
                units = self._units(wave, steps, channels, True,
                                    pool if threads() > 1 else None)
                raw = self._run(wave, steps, channels, block, progress, adapt, units, True)
                yield raw, block.finish(), block.bits

    @staticmethod
    def classical_file(pixels: np.ndarray) -> tuple[Method, bytes] | None:
        """The whole image's classical coding: its pixels as lossless WebP (Pillow,
        exact, method 6), which the engine stores instead of the model's blocks when it
        is smaller (never worse than WebP); None when this Pillow has no WebP or the
        image is too large for it."""
        payload = formats.webp_bytes(pixels)
        return None if payload is None else (Method.WEBP, payload)

    def decode(self, info: dict, payloads: Iterator[tuple],
               progress: Progress | None = None) -> Iterator[bytes]:
        """Decode block after block; `payloads` yields (payload, raw length[, method]) in
        order (method 3, the model's, when not given) and each block's raw subpixels are
        yielded back (for the container's CRC check). A WebP block (method 7) holds the
        whole image: its subpixels in step order, as the model's blocks would."""
        height, width, channels = image_shape(info)
        wave, adapt = Wavefront(self.model, height, width), ResidualMixer(self.adaptive, height)
        cm = image_cm.ImageCM(height, width, channels, self.cm) if self.cm is not None else None
        pool = ThreadPoolExecutor(1) if threads() > 1 and self.part_rows else None
        pipe = _Pipeline(wave, self.part_rows, pool) if self.part_rows else None
        with (contextlib.nullcontext() if pipe else Splitter(minimum=48)) as wave.split, \
                pool or contextlib.nullcontext():
            for i, steps in enumerate(self.blocks(height, width, channels)):
                payload, raw_len, *method = next(payloads, (None, 0))
                if payload is None:
                    raise FormatError("truncated file (image blocks missing)")
                if method and method[0] == Method.WEBP:
                    if i or raw_len != height * width * channels:
                        raise FormatError("corrupted block header (a WebP block that is not "
                                          "the whole image)")
                    try:
                        pixels = formats.webp_pixels(payload, height, width, channels)
                    except ValueError as exc:
                        raise FormatError(f"corrupted block payload ({exc})") from None
                    if progress:
                        progress(pixels.size)
                    yield subpixels_in_steps(pixels)
                    return
                if raw_len != block_subpixel_count(steps, height, width, channels):
                    raise FormatError("corrupted block header (image block length)")
                block = (_BlockDecoder(payload, self.decoder_factory) if cm is None
                         else _CMBlock(cm, wave.image(), payload))
                units = (pipe.units(steps) if pipe is not None
                         else self._units(wave, steps, channels, False, None))
                yield self._run(wave, steps, channels, block, progress, adapt, units, False)


class _Pipeline:
    """The decoder's network one run of rows ahead, in a helper thread (format 16).

    Step t + 1's pixels in rows below b see step t's in rows below b only (the embedding's
    taps reach rows r - 2 .. r of the previous step, the layers' rows r - 1 and r of the
    previous step's cached activations), and format 16 codes each step in two runs of rows
    (`step_parts`) whose split rarely moves up from one step to the next. So as soon as
    step t's first run is decoded, the helper computes step t + 1's first run (network,
    mixture, channel 0's frequencies) while this thread decodes step t's second run, and
    the second run of t + 1 while this thread decodes t + 1's first: the network and the
    context mixing overlap instead of taking turns. Runs are computed in coding order (the
    activations' ring of step slots needs it); without a helper thread, here, when ready.
    """

    def __init__(self, wave: Wavefront, part_rows: int, pool: ThreadPoolExecutor | None
                 ) -> None:
        self.wave, self.part_rows, self.pool = wave, part_rows, pool
        self.todo = deque((t, a, b) for t in range(step_count(wave.height, wave.width))
                          for a, b in step_parts(t, wave.height, wave.width, part_rows))
        self.computed: dict[tuple[int, int], object] = {}  # (t, a) -> future of `_compute`
        self.coded = (0, 0)  # every step before coded[0] decoded, and its rows < coded[1]
        self._submit()

    def _compute(self, t: int, a: int, b: int) -> tuple:
        rows, cols, params = self.wave.part(t, a, b)
        mixture = ExactMixture(params, self.wave.mixtures)
        pixels = np.zeros((len(rows), 3), dtype=np.uint8)
        return rows, cols, mixture, pixels, [mixture.pmf(0, pixels)]

    def _submit(self) -> None:
        """Start every run whose inputs are decoded, in order."""
        step, below = self.coded
        while self.todo:
            t, a, b = self.todo[0]
            if not (t - 1 < step or (t - 1 == step and b <= below)):
                return
            self.todo.popleft()
            self.computed[t, a] = (self.pool.submit(self._compute, t, a, b) if self.pool
                                   else done(self._compute(t, a, b)))

    def units(self, steps: range) -> Iterator[tuple]:
        """`ImageCodec._units` of the decoder: each run's network output, waited for; a
        run counts as decoded (and its successors start) when the next is asked for."""
        for t in steps:
            parts = step_parts(t, self.wave.height, self.wave.width, self.part_rows)
            if not parts:  # a step without pixels (an image one column wide)
                self.coded = (t + 1, 0)
                self._submit()
            for k, (a, b) in enumerate(parts):
                rows, cols, mixture, pixels, freqs = self.computed.pop((t, a)).result()
                last = k == len(parts) - 1
                yield t, last, rows, cols, mixture, pixels, freqs
                self.coded = (t + 1, 0) if last else (t, b)
                self._submit()


def image_shape(info: dict) -> tuple[int, int, int]:
    """(height, width, channels) from the header, validated."""
    try:
        shape = int(info["height"]), int(info["width"]), int(info["channels"])
    except (KeyError, TypeError, ValueError):
        raise FormatError("corrupted header (image size missing)") from None
    if (min(shape) < 1 or shape[2] not in (1, 3) or shape[0] > formats.MAX_HEIGHT
            or shape[0] * shape[1] > formats.MAX_PIXELS):
        raise FormatError(f"corrupted header (image size {shape})")
    return shape


def block_subpixel_count(steps: range, height: int, width: int, channels: int) -> int:
    """How many subpixels a block of wavefront `steps` holds."""
    return channels * sum(max(0, hi - lo + 1) for lo, hi in (
        active_rows(t, height, width) for t in steps))


def subpixels_in_steps(pixels: np.ndarray) -> bytes:
    """The (H, W, C) image's subpixels in the model's step order (the inverse of
    `pixels_from_blocks`)."""
    height, width, _ = pixels.shape
    parts = []
    for t in range(step_count(height, width)):
        lo, hi = active_rows(t, height, width)
        if hi >= lo:
            rows = np.arange(lo, hi + 1)
            parts.append(pixels[rows, t - SLOPE * rows].tobytes())
    return b"".join(parts)


def pixels_from_blocks(blocks: list[bytes], height: int, width: int,
                       channels: int) -> np.ndarray:
    """Reassemble the (H, W, C) image from the blocks' step-ordered subpixels."""
    flat = np.frombuffer(b"".join(blocks), dtype=np.uint8)
    if len(flat) != height * width * channels:
        raise FormatError("decoded image has the wrong number of subpixels")
    out = np.zeros((height, width, channels), dtype=np.uint8)
    pos = 0
    for t in range(step_count(height, width)):
        lo, hi = active_rows(t, height, width)
        if hi < lo:
            continue
        rows = np.arange(lo, hi + 1)
        n = len(rows) * channels
        out[rows, t - SLOPE * rows] = flat[pos:pos + n].reshape(len(rows), channels)
        pos += n
    return out


class _BlockEncoder:
    """The encoder's CodeFn: codes the known subpixels and counts their ideal bits."""

    def __init__(self, pixels: np.ndarray, bits_out: np.ndarray | None = None) -> None:
        self.pixels, self.encoder, self.bits = pixels, CategoricalEncoder(), 0.0
        self.bits_out = bits_out

    def __call__(self, channel: int, freqs: np.ndarray, probs: np.ndarray, rows: np.ndarray,
                 cols: np.ndarray, pixel: np.ndarray) -> np.ndarray:
        symbols = self.pixels[rows, cols, channel].astype(np.int64)
        self.encoder.encode(symbols, probs)
        each = ideal_bits_each(symbols, probs)
        self.bits += float(each.sum())
        if self.bits_out is not None:
            self.bits_out[rows, cols, channel] = each
        return symbols

    def finish(self) -> bytes:
        return self.encoder.finish()


class _BlockDecoder:
    """The decoder's CodeFn: decodes the subpixels from one block's payload."""

    def __init__(self, payload: bytes, factory: type = CategoricalDecoder) -> None:
        self.decoder = factory(payload)

    def __call__(self, channel: int, freqs: np.ndarray, probs: np.ndarray, rows: np.ndarray,
                 cols: np.ndarray, pixel: np.ndarray) -> np.ndarray:
        return self.decoder.decode(probs)


class _CMBlock:
    """The CodeFn of format 9: one block of the image's context mixing (`cm`), encoding
    the known pixels (payload None) or decoding `payload`."""

    def __init__(self, cm: image_cm.ImageCM, image: np.ndarray, payload: bytes | None,
                 bits_out: np.ndarray | None = None) -> None:
        self.cm, self.image, self.decoding = cm, image, payload is not None
        self.bits, self.bits_out = 0.0, bits_out
        cm.start(payload)

    def __call__(self, channel: int, freqs: np.ndarray, probs: np.ndarray, rows: np.ndarray,
                 cols: np.ndarray, pixel: np.ndarray) -> np.ndarray:
        each = self.cm.code(channel, rows, cols, self.image, pixel, freqs, probs,
                            self.decoding)
        if not self.decoding:
            self.bits += float(each.sum())
            if self.bits_out is not None:
                self.bits_out[rows, cols, channel] = each
        return pixel[:, channel]

    def finish(self) -> bytes:
        return self.cm.finish()
