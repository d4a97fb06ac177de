"""Bytes codec: lanes of a block coded in lock-step by the byte Transformer + context mixer.

A block of n bytes is cut into `lanes` contiguous segments of near-equal length. At step t
every lane feeds its previous byte (BOS at t = 0) to the Transformer, the network's integer
frequencies are mixed with the adaptive statistics shared by all lanes, and byte t of every
active lane is coded. The network runs in exact integer arithmetic (`exact_model`), so the
encoder computes it for many steps of every lane in one parallel pass (it knows the bytes)
while the decoder runs it step by step with a KV cache: the same integers either way. The
mixer then runs step by step on both sides (`_run_lanes`), in float64 with + - * / only in a
fixed order, which IEEE 754 defines exactly.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from arzip.coding import CategoricalDecoder, CategoricalEncoder, ideal_bits_each
from arzip.errors import FormatError
from arzip.parallel import Splitter, done, threads

from . import cm, settings
from .cm import lane_lengths
from .exact_model import ExactByteTransformer
from .mixer import ContextMixer, MixerConfig
from .model import ByteTransformer, TextModelConfig
from .settings import MAX_LANES, MIN_LANE_BYTES
from .training import BOS

CODEC_ID = "bytes"
PROGRESS_EVERY = 64  # steps between progress callbacks
ENCODE_STEPS = 256  # steps of every lane the encoder's network computes in one pass
LANE_GROUP = 64  # lanes the encoder's network computes together
CM_LANE_BYTES = 4096  # method 5: bytes per lane wanted
CM_MIN_LANES = 16
CM_MAX_LANES = 16
# a method-5 block of this many lanes decodes in two halves over two threads
# (`_decode_halves`): the network's step is one compiled call that releases the GIL
# (`exact_model._step_lanes`), so it runs beside the context mixing (the numpy step of
# before ran slower split: 46 vs 35 s to decode lcet10.txt)
CM_SPLIT_LANES = 16

Progress = Callable[[int], None]
# the network's integer frequencies (lanes, 256) at step t, given the tokens fed at t
Network = Callable[[int, np.ndarray], np.ndarray]


def choose_lanes(n: int) -> int:
    """The number of lanes for a block of n bytes (recorded in the block header)."""
    return max(1, min(MAX_LANES, math.ceil(n / MIN_LANE_BYTES)))


def choose_cm_lanes(n: int) -> int:
    """Lanes of a method-5 block (recorded in its header): lanes share what the context
    models learn, but each starts cold and cannot match into the uncoded rest of the
    others, so fewer, longer lanes code smaller (a 450 KB training text: 0.18 % smaller in
    16 lanes than in 64, 0.27 % in 8); one thread decodes 16 lanes fastest (18.3 KB/s
    against 15.8 with 64 and 15.5 with 8: below 16 each step's fixed cost shows, above
    it the step's working set outgrows the cache). So: about 4 KiB per lane, at most
    CM_MAX_LANES, and at least 16 lanes of at least 512 bytes for small blocks."""
    wanted = max(math.ceil(n / CM_LANE_BYTES), min(CM_MIN_LANES, math.ceil(n / MIN_LANE_BYTES)))
    return max(1, min(CM_MAX_LANES, wanted))


class BytesCodec:
    """Codes blocks of bytes with a byte model; holds no file or container logic."""

    codec_id = CODEC_ID
    decoder_factory = CategoricalDecoder  # what decodes a payload (sampling tempers it)

    def __init__(self, model: ExactByteTransformer, mixer: MixerConfig | None = None) -> None:
        self.model = model
        self.mixer = mixer or MixerConfig()

    @classmethod
    def from_weights(cls, exported: dict, coder: dict | None = None) -> BytesCodec:
        model = ByteTransformer(TextModelConfig(**exported["config"]))
        model.load_state_dict(exported["state_dict"])
        mixer = MixerConfig(**coder["mixer"]) if coder and "mixer" in coder else None
        return cls(ExactByteTransformer(model, exported["quant"]), mixer)

    def coder_settings(self) -> dict:
        """What a decoder needs besides the model (stored in the .arz header)."""
        return settings.coder_settings(self.mixer)

    def _run_lanes(self, n: int, lanes: int, network: Network,
                   choose: Callable[[np.ndarray, np.ndarray], np.ndarray],
                   progress: Progress | None, network_only: bool = False) -> None:
        """The shared schedule: for each step, mix the network's frequencies with the
        adaptive statistics and let `choose` code (encoder) or decode (decoder) the active
        lanes' bytes, which it returns (lanes that have ended feed 0 from then on).
        `network_only` (sampling) uses the network's distribution without the mixer."""
        lengths = lane_lengths(n, lanes)
        steps = int(lengths.max()) if n else 0
        mixer = ContextMixer(self.mixer, lengths)
        tokens = np.full(lanes, BOS, dtype=np.int64)
        for t in range(steps):
            freqs = network(t, tokens)
            probs = freqs / freqs.sum(axis=1, keepdims=True)
            if not network_only:
                probs = mixer.mix(probs)
            active = lengths > t
            symbols = np.zeros(lanes, dtype=np.int64)
            symbols[active] = choose(probs[active], active)
            mixer.update(symbols, probs, active)
            tokens = symbols
            if progress and (t + 1) % PROGRESS_EVERY == 0:
                progress(int(np.minimum(lengths, t + 1).sum()))

    def _teacher(self, raw: np.ndarray, starts: np.ndarray, lengths: np.ndarray,
                 pool: ThreadPoolExecutor | None) -> Iterator[tuple[int, np.ndarray]]:
        """The encoder's network: the inputs of every step are known, so it computes
        ENCODE_STEPS steps of all lanes in one pass: yields (first step, frequencies
        (lanes, steps, 256)). With a `pool`, the next pass runs there while the caller
        codes the current one, its lanes in two groups side by side (exact arithmetic:
        the same integers however the lanes are grouped)."""
        steps, lanes = int(lengths.max()), len(lengths)
        # each lane's inputs: BOS, then its bytes (BOS again after its last byte), uint8
        tokens = np.full((lanes, steps), BOS, dtype=np.uint8)
        for lane, (start, length) in enumerate(zip(starts, lengths, strict=True)):
            fed = min(int(length), steps - 1)
            tokens[lane, 1:1 + fed] = raw[start:start + fed]
        size = LANE_GROUP if pool is None or lanes > 2 * LANE_GROUP else (lanes + 1) // 2
        groups = [slice(g, g + size) for g in range(0, lanes, size)]
        past: list = [None] * len(groups)

        def group(i: int, t: int) -> np.ndarray:
            freqs, past[i] = self.model.forward(tokens[groups[i], t:t + ENCODE_STEPS], t, past[i])
            return freqs

        def chunk(t: int) -> list:
            if pool is None:  # lane groups keep the temporaries in cache
                return [done(group(i, t)) for i in range(len(groups))]
            return [pool.submit(group, i, t) for i in range(len(groups))]

        pending = chunk(0)
        for first in range(0, steps, ENCODE_STEPS):
            freqs = np.concatenate([part.result() for part in pending])
            following = first + ENCODE_STEPS
            if following < steps:
                pending = chunk(following)
            yield first, freqs

    def _teacher_steps(self, raw: np.ndarray, starts: np.ndarray, lengths: np.ndarray,
                       pool: ThreadPoolExecutor | None) -> Network:
        """The encoder's network served step by step (the format-3 schedule)."""
        chunks = self._teacher(raw, starts, lengths, pool)
        state = {"first": -ENCODE_STEPS, "freqs": None}

        def network(t: int, _tokens: np.ndarray) -> np.ndarray:
            if t >= state["first"] + ENCODE_STEPS:
                state["first"], state["freqs"] = next(chunks)
            return state["freqs"][:, t - state["first"]]

        return network

    def _stepper(self, lanes: int, steps: int, split: Splitter) -> Network:
        """The decoder's network: one step of every lane with a KV cache, the lanes split
        over `split`'s threads (exact arithmetic: any split gives the same integers)."""
        cache = self.model.new_cache(lanes, steps)

        def network(t: int, tokens: np.ndarray) -> np.ndarray:
            def part(sl: slice) -> np.ndarray:
                return self.model.step(tokens[sl], t, cache, sl.start)

            return np.concatenate(split(part, lanes))

        return network

    def encode_block(self, data: bytes, progress: Progress | None = None,
                     bits_out: np.ndarray | None = None) -> tuple[int, bytes, float]:
        """(lanes, payload, ideal bits) for one block; `bits_out` (n,), when given, receives
        each byte's ideal bits (for likelihood maps)."""
        n, lanes = len(data), choose_lanes(len(data))
        lengths = lane_lengths(n, lanes)
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        raw = np.frombuffer(data, dtype=np.uint8).astype(np.int64)
        encoder = CategoricalEncoder()
        step = [0]
        bits = [0.0]

        def code(probs: np.ndarray, active: np.ndarray) -> np.ndarray:
            symbols = raw[starts[active] + step[0]]
            encoder.encode(symbols, probs)
            each = ideal_bits_each(symbols, probs)
            bits[0] += float(each.sum())
            if bits_out is not None:
                bits_out[starts[active] + step[0]] = each
            step[0] += 1
            return symbols

        if n:
            with ThreadPoolExecutor(2) as pool:
                network = self._teacher_steps(raw, starts, lengths,
                                              pool if threads() > 1 else None)
                self._run_lanes(n, lanes, network, code, progress)
        return lanes, encoder.finish(), bits[0]

    def decode_block(self, payload: bytes, n: int, lanes: int,
                     progress: Progress | None = None, prefix: bytes = b"",
                     network_only: bool = False) -> bytes:
        """The n bytes of one block coded with `lanes` lanes. Sampling: the first bytes of
        every lane may be given (`prefix`, a prompt: taken, not decoded), and the mixer
        left out (`network_only`)."""
        if lanes > MAX_LANES:
            raise FormatError(f"corrupted block header ({lanes} lanes, at most {MAX_LANES})")
        lengths = lane_lengths(n, lanes)
        steps = int(lengths.max()) if n else 0
        out = np.zeros((lanes, steps), dtype=np.uint8)
        decoder = self.decoder_factory(payload)
        step = [0]
        given = np.frombuffer(prefix, dtype=np.uint8).astype(np.int64)

        def decode(probs: np.ndarray, active: np.ndarray) -> np.ndarray:
            t = step[0]
            symbols = (np.full(len(probs), given[t]) if t < len(given)
                       else decoder.decode(probs))
            out[active, step[0]] = symbols
            step[0] += 1
            return symbols

        with Splitter(minimum=64) as split:
            self._run_lanes(n, lanes, self._stepper(lanes, steps, split), decode, progress,
                            network_only)
        return b"".join(out[i, : lengths[i]].tobytes() for i in range(lanes))

    # ---- format 5: the network's bit probabilities inside binary context mixing ----
    def encode_cm_block(self, data: bytes, progress: Progress | None = None,
                        bits_out: np.ndarray | None = None) -> tuple[int, bytes | None, float]:
        """(lanes, payload, ideal bits) of one block coded by context mixing with the
        network as one of its inputs (block method 5); payload None if it outgrew 1.5x the
        input. `bits_out` (n,), when given, receives each byte's ideal bits."""
        n, lanes = len(data), choose_cm_lanes(len(data))
        coder = cm.LaneCoder(n, lanes)
        coder.data[:] = np.frombuffer(data, dtype=np.uint8)
        if n:
            with ThreadPoolExecutor(2) as pool:
                for first, freqs in self._teacher(coder.data, coder.starts, coder.lengths,
                                                  pool if threads() > 1 else None):
                    last = min(coder.steps, first + freqs.shape[1])
                    coder.code(first, last, freqs)
                    if progress:
                        progress(int(np.minimum(coder.lengths, last).sum()))
        if bits_out is not None:
            bits_out[:] = coder.cost
        return lanes, coder.finish(), float(coder.cost.sum())

    def decode_cm_block(self, payload: bytes, n: int, lanes: int,
                        progress: Progress | None = None, variant: int = cm.VARIANT) -> bytes:
        """The n bytes of one block of method 5 coded with `lanes` lanes by the context
        mixing model `variant` (`cm.variant_of` the file's format version)."""
        if lanes > MAX_LANES:
            raise FormatError(f"corrupted block header ({lanes} lanes, at most {MAX_LANES})")
        coder = cm.LaneCoder(n, lanes, payload, variant=variant)
        if lanes >= CM_SPLIT_LANES and threads() > 1:
            self._decode_halves(coder, lanes, progress)
            return coder.data.tobytes()
        tokens = np.full(lanes, BOS, dtype=np.int64)
        cache = self.model.new_cache(lanes, coder.steps)  # fewer lanes or one thread
        for t in range(coder.steps):
            freqs = self.model.step(tokens, t, cache)
            tokens = coder.code(t, t + 1, freqs[:, None]).astype(np.int64)[:, 0]
            if progress and (t + 1) % PROGRESS_EVERY == 0:
                progress(int(np.minimum(coder.lengths, t + 1).sum()))
        return coder.data.tobytes()

    def _decode_halves(self, coder: cm.LaneCoder, lanes: int,
                       progress: Progress | None) -> None:
        """`decode_cm_block`'s steps with the lanes in two halves, pipelined over two
        threads: the context mixing decodes step t of the first half, then of the second
        (the order one call over all lanes takes, so the same bytes), and as soon as a
        half's bytes are known its network step t + 1 starts in a helper thread while the
        context mixing goes on with the other half. The network's step (one compiled call,
        without the GIL) overlaps the context mixing instead of waiting for it."""
        halves = ((0, lanes // 2), (lanes // 2, lanes))
        cache = self.model.new_cache(lanes, coder.steps)
        freqs = np.zeros((lanes, 1, 256), dtype=np.int64)

        def step(half: tuple[int, int], t: int, tokens: np.ndarray) -> np.ndarray:
            return self.model.step(tokens, t, cache, half[0])

        with ThreadPoolExecutor(2) as pool:
            pending = [pool.submit(step, h, 0, np.full(h[1] - h[0], BOS, dtype=np.int64))
                       for h in halves]
            for t in range(coder.steps):
                for k, (lo, hi) in enumerate(halves):
                    freqs[lo:hi, 0] = pending[k].result()
                    tokens = coder.code(t, t + 1, freqs, lo, hi).astype(np.int64)[:, 0]
                    if t + 1 < coder.steps:
                        pending[k] = pool.submit(step, halves[k], t + 1, tokens)
                if progress and (t + 1) % PROGRESS_EVERY == 0:
                    progress(int(np.minimum(coder.lengths, t + 1).sum()))
