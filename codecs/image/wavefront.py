"""The cached wavefront schedule of the image model (the decoder's step by step pass).

Pixel (r, c) is computed at step t = c + 2r. All its inputs were computed at steps t-1,
t-2 or t-3, so each layer keeps only the last four steps of its int8 elu(h) activations,
one row of the image per slot: memory is O(height × channels), whatever the width. At each
step the active pixels form one contiguous range of rows, so every neighbour lookup is a
slice. The arithmetic is `exact_model.ExactPixelCNN`'s, so every pixel gets the same
integers as in the encoder's whole-image pass.
"""

from __future__ import annotations

import numpy as np

from arzip.parallel import Splitter

from .config import EMBED_TAPS, SLOPE
from .exact_model import ExactPixelCNN

_TAP_ROWS = np.array([dr for dr, _ in EMBED_TAPS])
_TAP_COLS = np.array([dc for _, dc in EMBED_TAPS])
_PAD_TOP, _PAD_SIDE = 2, 3


def step_count(height: int, width: int) -> int:
    """Number of wavefront steps of an image."""
    return width + SLOPE * (height - 1) if height and width else 0


def step_parts(t: int, height: int, width: int, part_rows: int | None) -> list[tuple[int, int]]:
    """The runs (a, b) of rows a .. b - 1 that step t is coded in, in order: from format
    16 (`part_rows` set) two runs split at the multiple of `part_rows` nearest the middle
    of the step's active rows, when it lies inside them, else (and before) the whole step.
    The split stays put for about 2 x part_rows steps, so the next step's first run only
    needs this step's first run coded (the decoder's pipeline, `codec._Pipeline`)."""
    lo, hi = active_rows(t, height, width)
    if hi < lo:
        return []
    if part_rows:
        middle = part_rows * ((lo + hi + 1 + part_rows) // (2 * part_rows))
        if lo < middle <= hi:
            return [(lo, middle), (middle, hi + 1)]
    return [(lo, hi + 1)]


def active_rows(t: int, height: int, width: int) -> tuple[int, int]:
    """First and last row whose pixel is computed at step t."""
    hi = min(height - 1, t // SLOPE)
    lo = max(0, -(-(t - width + 1) // SLOPE))
    return lo, hi


class Wavefront:
    """Incremental evaluation of the exact PixelCNN over one image, a range of steps at a
    time: one step (the decoder, which learns each step's pixels from the previous one's)
    or many (the encoder, which knows them all). Each layer keeps a ring of `ring` step
    slots of its elu(h) activations, one row of the image per slot."""

    def __init__(self, model: ExactPixelCNN, height: int, width: int, span: int = 1) -> None:
        self.model = model
        self.height, self.width = height, width
        self.mixtures = model.mixtures
        self.span, self.ring = span, span + 3
        # decoded pixels, padded so every embed tap is an in-bounds index
        self.pixels = np.zeros((height + _PAD_TOP, width + 2 * _PAD_SIDE, 3), dtype=np.uint8)
        self.caches = [np.zeros((self.ring, height + 1, model.channels), dtype=np.float32)
                       for _ in range(model.layers)]
        self.done = 0  # subpixels set so far
        self.split: Splitter | None = None  # threads for one step's rows (the decoder)
        self._ahead: tuple | None = None  # (step, future of its `_sum_earlier`)

    def positions(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows and columns of the pixels computed at step t."""
        lo, hi = active_rows(t, self.height, self.width)
        rows = np.arange(lo, hi + 1)
        return rows, t - SLOPE * rows

    def set_pixels(self, rows: np.ndarray, cols: np.ndarray, values: np.ndarray) -> None:
        """Record (n, 3) pixels."""
        self.pixels[rows + _PAD_TOP, cols + _PAD_SIDE] = values

    def image(self) -> np.ndarray:
        """The (H, W, 3) pixels recorded so far (a view)."""
        return self.pixels[_PAD_TOP:_PAD_TOP + self.height, _PAD_SIDE:_PAD_SIDE + self.width]

    def get_pixels(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """The recorded (n, 3) pixels (a copy)."""
        return self.pixels[rows + _PAD_TOP, cols + _PAD_SIDE]

    def _embed(self, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """The residual after the embedding, and the linear path, of the pixels at (rows,
        cols) from their recorded taps."""
        tr = rows[:, None] + _TAP_ROWS
        tc = cols[:, None] + _TAP_COLS
        inside = ((tr >= 0) & (tc >= 0) & (tc < self.width)).astype(np.float32)
        return self.model.first(self.model.embed_taps(
            self.pixels[tr + _PAD_TOP, tc + _PAD_SIDE], inside))

    def _layers(self, t: int, a: int, b: int, h: np.ndarray, skip: np.ndarray | None,
                earlier: list[np.ndarray] | None = None) -> np.ndarray:
        """Mixture parameters of step t's rows a .. b - 1 (one run: every lookup a slice)
        from their embedded residual h, each layer's activations cached on the way; with
        `earlier`, each layer's sums of its taps on earlier steps (`_sum_earlier`)."""
        m = self.model
        slots = [(t - k) % self.ring for k in range(4)]
        for i, cache in enumerate(self.caches):
            e = m.lookup_elu(m.elu_h[i], h)
            cache[slots[0], a + 1:b + 1] = e
            if earlier is not None:  # the earlier steps' taps were summed ahead
                h = m.block(i, e, h, earlier[i])
                continue
            taps = np.concatenate([cache[slots[3], a:b], cache[slots[2], a:b],
                                   cache[slots[1], a:b], cache[slots[1], a + 1:b + 1], e], 1)
            h = m.block(i, taps, h)
        return m.last(h, skip)

    def part(self, t: int, a: int, b: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rows, cols, mixture parameters (n, 10K)) of step t's pixels in rows a .. b - 1
        (a run of its active rows, in this thread; `params` computes whole steps). Step t's
        first run also zeroes the idle rows next to the step. Their inputs must be set:
        the pixels of steps t - 1 .. t - 3 in rows a - 2 .. b - 1 (embed taps) and the
        cached activations of the earlier steps (computed first: one step's runs in row
        order, steps in order)."""
        lo, hi = active_rows(t, self.height, self.width)
        rows = np.arange(a, b)
        cols = t - SLOPE * rows
        h, skip = self._embed(rows, cols)
        if a == lo:  # the idle rows next to the step's active rows read as zeros (the border)
            for cache in self.caches:
                cache[t % self.ring, lo] = 0.0
                if hi + 2 <= self.height:
                    cache[t % self.ring, hi + 2] = 0.0
        return rows, cols, self._layers(t, a, b, h, skip)

    def _sum_earlier(self, t: int) -> list[np.ndarray] | None:
        """Every layer's accumulators of step t's taps on earlier steps (the first 4C of
        `ExactPixelCNN.block`'s taps), for all its rows; None for a step without pixels.
        They read only cache slots of steps t-3 .. t-1, which step t leaves alone."""
        lo, hi = active_rows(t, self.height, self.width)
        if hi < lo:
            return None
        ring = self.ring
        s1, s2, s3 = ((t - k) % ring for k in (1, 2, 3))
        return [self.model.block_earlier(i, np.concatenate(
            [cache[s3, lo:hi + 1], cache[s2, lo:hi + 1], cache[s1, lo:hi + 1],
             cache[s1, lo + 1:hi + 2]], 1)) for i, cache in enumerate(self.caches)]

    def _earlier(self, t: int) -> list[np.ndarray] | None:
        """The look-ahead's sums for step t (waiting for them), if it made them."""
        ahead, self._ahead = self._ahead, None
        return ahead[1].result() if ahead is not None and ahead[0] == t else None

    def params(self, t0: int, t1: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rows, cols, mixture parameters (n, 10K)) of the pixels of steps t0 .. t1 - 1
        (at most `span` steps) in step order, then rows ascending; the pixels they see
        (every earlier step's) must be set."""
        m, ring = self.model, self.ring
        t = np.arange(t0, t1)
        hi = np.minimum(self.height - 1, t // SLOPE)
        lo = np.maximum(0, -(-(t - self.width + 1) // SLOPE))
        count = np.maximum(0, hi - lo + 1)
        steps = np.repeat(t, count)
        rows = np.arange(len(steps)) - np.repeat(np.cumsum(count) - count - lo, count)
        cols = steps - SLOPE * rows
        if not len(rows):
            return rows, cols, np.zeros((0, 10 * m.mixtures))
        h, skip = self._embed(rows, cols)
        # the idle rows next to each step's active rows read as zeros (the image's border)
        idle_slots = np.concatenate([t % ring, t % ring])
        idle_rows = np.concatenate([lo, hi + 2])
        keep = idle_rows <= self.height
        idle_slots, idle_rows = idle_slots[keep], idle_rows[keep]
        if t1 == t0 + 1:  # one step: its rows are one run, every lookup a slice
            earlier = self._earlier(t0)
            for cache in self.caches:
                cache[idle_slots, idle_rows] = 0.0
            first = int(lo[0])

            def run(part: slice) -> np.ndarray:  # rows are independent within a step
                return self._layers(t0, first + part.start, first + part.stop, h[part],
                                    None if skip is None else skip[part],
                                    None if earlier is None else [e[part] for e in earlier])

            if self.split is None:
                return rows, cols, run(slice(0, len(rows)))
            out = np.concatenate(self.split(run, len(rows)))
            # the next step's taps from this and earlier steps, summed in the helper thread
            # while the caller codes this step's pixels (a decoder's idle core)
            self._ahead = (t0 + 1, self.split.submit(self._sum_earlier, t0 + 1))
            return rows, cols, out
        now, index = steps % ring, rows + 1
        up_left, up, up_right = (steps - 3) % ring, (steps - 2) % ring, (steps - 1) % ring
        for i, cache in enumerate(self.caches):
            e = m.lookup_elu(m.elu_h[i], h)
            cache[idle_slots, idle_rows] = 0.0
            cache[now, index] = e
            taps = np.concatenate([cache[up_left, rows], cache[up, rows], cache[up_right, rows],
                                   cache[up_right, index], e], 1)
            h = m.block(i, taps, h)
        return rows, cols, m.last(h, skip)
