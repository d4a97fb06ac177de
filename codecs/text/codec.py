"""Bytes codec: lanes of a block coded in lock-step by the byte Transformer + context mixer.

A block of n bytes is cut into `lanes` contiguous segments of near-equal length. At step t
every lane feeds its previous byte (BOS at t = 0) to the Transformer (one batched `step`
with a sliding-window KV cache), the network's distribution is mixed with the adaptive
statistics shared by all lanes, and byte t of every active lane is coded. Encoding and
decoding run this one function, `_run_lanes`, with the same shapes and one torch thread,
so both sides compute bit-identical probabilities.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict

import numpy as np
import torch

from arzip.coding import CategoricalDecoder, CategoricalEncoder, ideal_bits_each
from arzip.errors import FormatError
from arzip.runtime import single_thread

from .mixer import ContextMixer, MixerConfig
from .model import ByteTransformer, TextModelConfig
from .training import BOS

CODEC_ID = "bytes"
MIN_LANE_BYTES = 512  # small blocks get fewer lanes; measured: lanes cost the mixer little
MAX_LANES = 512
GROUP_SPLIT = 64  # from this many lanes, the network runs as two half batches in parallel
PROGRESS_EVERY = 64  # steps between progress callbacks

Progress = Callable[[int], None]


def choose_lanes(n: int) -> int:
    """The number of lanes for a block of n bytes (recorded in the block header)."""
    return max(1, min(MAX_LANES, math.ceil(n / MIN_LANE_BYTES)))


def lane_groups(lanes: int) -> list[slice]:
    """Fixed split of the lanes into network batches (two halves from GROUP_SPLIT lanes)."""
    if lanes < GROUP_SPLIT:
        return [slice(0, lanes)]
    return [slice(0, lanes // 2), slice(lanes // 2, lanes)]


def lane_lengths(n: int, lanes: int) -> np.ndarray:
    """Lengths of the contiguous lanes: the first n % lanes lanes get one extra byte."""
    return n // lanes + (np.arange(lanes) < n % lanes)


class BytesCodec:
    """Codes blocks of bytes with a byte model; holds no file or container logic."""

    codec_id = CODEC_ID

    def __init__(self, model: ByteTransformer, mixer: MixerConfig | None = None) -> None:
        self.model = model.eval()
        self.mixer = mixer or MixerConfig()

    @classmethod
    def from_weights(cls, exported: dict, coder: dict | None = None) -> BytesCodec:
        model = ByteTransformer(TextModelConfig(**exported["config"]))
        model.load_state_dict(exported["state_dict"])
        mixer = MixerConfig(**coder["mixer"]) if coder and "mixer" in coder else None
        return cls(model, mixer)

    def coder_settings(self) -> dict:
        """What a decoder needs besides the model (stored in the .arz header)."""
        return {"type": "range", "model": "categorical", "words": "u32le",
                "min_lane_bytes": MIN_LANE_BYTES, "max_lanes": MAX_LANES,
                "mixer": asdict(self.mixer)}

    def _net_probs(self, tokens: torch.Tensor, t: int, cache: list) -> np.ndarray:
        logits = self.model.step(tokens, t, cache)
        return torch.softmax(logits, dim=-1).numpy().astype(np.float64)

    def _run_lanes(self, n: int, lanes: int, choose: Callable[[np.ndarray, np.ndarray], np.ndarray],
                   progress: Progress | None) -> None:
        """The shared schedule: for each step, compute probabilities and let `choose` code
        (encoder) or decode (decoder) the active lanes' bytes, which it returns.

        The network runs on fixed lane groups, each its own batch in its own thread, while
        the mixer learns from the previous step and prepares its part of the next mixture;
        the groups depend only on `lanes`, so the arithmetic is the same on every run and
        machine thread count.
        """
        lengths = lane_lengths(n, lanes)
        steps = int(lengths.max()) if n else 0
        mixer = ContextMixer(self.mixer, lengths)
        groups = lane_groups(lanes)
        with single_thread(), torch.no_grad(), ThreadPoolExecutor(
                len(groups), initializer=torch.set_num_threads, initargs=(1,)) as pool:
            caches = [self.model.new_cache(g.stop - g.start) for g in groups]
            tokens = torch.full((lanes,), BOS, dtype=torch.long)
            pending = None
            for t in range(steps):
                jobs = [pool.submit(self._net_probs, tokens[g], t, cache)
                        for g, cache in zip(groups, caches, strict=True)]
                if pending:
                    mixer.update(*pending)
                mixer.prepare()
                p_net = np.concatenate([job.result() for job in jobs])
                probs = mixer.mix(p_net)
                active = lengths > t
                symbols = np.zeros(lanes, dtype=np.int64)
                symbols[active] = choose(probs[active], active)
                pending = (symbols, probs)
                tokens = torch.from_numpy(symbols)
                if progress and (t + 1) % PROGRESS_EVERY == 0:
                    progress(int(np.minimum(lengths, t + 1).sum()))

    def encode_block(self, data: bytes, progress: Progress | None = None,
                     bits_out: np.ndarray | None = None) -> tuple[int, bytes, float]:
        """(lanes, payload, ideal bits) for one block; `bits_out` (n,), when given, receives
        each byte's ideal bits (for likelihood maps)."""
        n, lanes = len(data), choose_lanes(len(data))
        lengths = lane_lengths(n, lanes)
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        raw = np.frombuffer(data, dtype=np.uint8)
        encoder = CategoricalEncoder()
        step = [0]
        bits = [0.0]

        def code(probs: np.ndarray, active: np.ndarray) -> np.ndarray:
            symbols = raw[starts[active] + step[0]].astype(np.int64)
            encoder.encode(symbols, probs)
            each = ideal_bits_each(symbols, probs)
            bits[0] += float(each.sum())
            if bits_out is not None:
                bits_out[starts[active] + step[0]] = each
            step[0] += 1
            return symbols

        self._run_lanes(n, lanes, code, progress)
        return lanes, encoder.finish(), bits[0]

    def decode_block(self, payload: bytes, n: int, lanes: int,
                     progress: Progress | None = None) -> bytes:
        """The n bytes of one block coded with `lanes` lanes."""
        if lanes > MAX_LANES:
            raise FormatError(f"corrupted block header ({lanes} lanes, at most {MAX_LANES})")
        lengths = lane_lengths(n, lanes)
        out = np.zeros((lanes, int(lengths.max()) if n else 0), dtype=np.uint8)
        decoder = CategoricalDecoder(payload)
        step = [0]

        def decode(probs: np.ndarray, active: np.ndarray) -> np.ndarray:
            symbols = decoder.decode(probs)
            out[active, step[0]] = symbols
            step[0] += 1
            return symbols

        self._run_lanes(n, lanes, decode, progress)
        return b"".join(out[i, : lengths[i]].tobytes() for i in range(lanes))
