"""Adaptive byte statistics mixed with the neural prediction (compiled by numba).

Every lane of a block shares one set of statistics, updated after each step with the bytes
of all lanes, so strings seen anywhere earlier in the block sharpen later predictions:

- order-k counts (k = 0..max_order) of the byte that followed each context;
- a match model: the byte that followed the last occurrence of the current order-5
  context in the block, trusted according to how long the match has held so far.

The final distribution is a linear mixture of the network's distribution and these
estimates, with weights learned online (a Bayesian mixture update with a floor) in sets
selected by the evidence at hand. Only integer operations and float64 +, -, *, / applied
one at a time in the order written are used (loops compiled without fast-math: no
reordering, no fused multiply-add, no transcendental functions), so every machine
computes identical float64 values. Lanes are processed in order; within a step, lane i's
update sees lane j < i's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

HASH_MULT = np.uint64(0x9E3779B97F4A7C15)
EVIDENCE_EDGES = (1, 3, 12)  # total counts bucketed into 4 evidence levels
MATCH_EDGES = (1, 8, 16, 32)  # match lengths bucketed into 5 levels (0 = no match)
MATCH_LEN_CAP = 63


@dataclass(frozen=True)
class MixerConfig:
    """Settings of the adaptive statistics; stored in the .arz header."""

    max_order: int = 5
    log2_rows: int = 18  # rows of each hashed table (orders >= 3), capped by the block size
    count_limit: int = 250  # counts (uint8) are halved when one exceeds this
    prior: float = 0.0005  # additive prior of each order's estimate (per symbol)
    learning_rate: float = 0.02
    floor: float = 0.002  # share of weight each model keeps (fixed-share)
    match_model: bool = True


def _order_rows(order: int, log2_rows: int) -> int:
    if order <= 2:
        return 256 ** order
    return 1 << log2_rows


@njit(cache=True, nogil=True)
def _bucket(value: int, edges: tuple) -> int:
    """The number of edges <= value."""
    b = 0
    for e in edges:
        if value >= e:
            b += 1
    return b


@njit(cache=True, nogil=True)
def _known(pos: int, starts: np.ndarray, steps: int) -> bool:
    """Whether a block position is already coded (lanes advance in lock-step)."""
    if pos < 0:
        return False
    lane = np.searchsorted(starts, pos, side="right") - 1
    return pos - starts[max(lane, 0)] < steps


@njit(cache=True, nogil=True)
def _mix(p_net, counts, totals, offsets, sizes, history, steps, prior, weights, match_model,
         match_len, match_ptr, match_table, block, match_hits, match_trials, starts,
         rows, sets, match_byte, match_q, context_hash, out):  # noqa: ANN001
    """The mixed distribution out (lanes, 256) of every lane, and the per-lane state the
    update needs (rows, weight sets, the match model's byte and trust, context hashes)."""
    lanes = p_net.shape[0]
    orders = offsets.shape[0]
    max_order = orders - 1
    n_models = weights.shape[1]
    scale = np.empty(orders)
    for i in range(lanes):
        # context rows of every order, and the full context hash
        row = np.int64(0)
        h = np.uint64(0)
        rows[i, 0] = offsets[0]
        for k in range(1, orders):
            byte = history[i, k - 1]
            if k <= 2:
                row = row * 256 + np.int64(byte)
                h = (h ^ byte) * HASH_MULT
            else:
                h = (h ^ byte) * HASH_MULT + np.uint64(k)
                row = np.int64((h >> np.uint64(20)) % np.uint64(sizes[k]))
            rows[i, k] = offsets[k] + row
        context_hash[i] = h
        # the match model: start a match where there is none, drop one that left the known
        if match_model:
            if match_len[i] == 0 and steps >= max_order:
                found = match_table[np.int64((h >> np.uint64(16))
                                             % np.uint64(match_table.shape[0]))]
                match_ptr[i] = found
                match_len[i] = 1 if found >= 0 else 0
            if match_len[i] > 0 and not _known(match_ptr[i], starts, steps):
                match_len[i] = 0
        # the weight set: highest order with evidence, its evidence, the match length
        best, evidence = 0, 0
        for k in range(orders):
            n = totals[rows[i, k]]
            if n > 0 and steps >= k:
                best, evidence = k, n
        s = (best * 4 + _bucket(evidence, EVIDENCE_EDGES)) * (len(MATCH_EDGES) + 1) + _bucket(
            match_len[i], MATCH_EDGES)
        sets[i] = s
        bias = 0.0
        for k in range(orders):
            scale[k] = weights[s, k + 1] / (totals[rows[i, k]] + 256 * prior)
            bias += scale[k] * prior
        matching = match_len[i] > 0
        length = min(match_len[i], MATCH_LEN_CAP)
        q = match_hits[length] / match_trials[length] if matching else 1.0 / 256
        match_q[i] = q
        mb = block[min(max(match_ptr[i], 0), block.shape[0] - 1)] if matching else 0
        match_byte[i] = mb
        w_match = weights[s, n_models - 1]
        other = (1.0 - q) / 255.0
        bias += w_match * (other if matching else q)
        w_net = weights[s, 0]
        for x in range(256):
            acc = 0.0
            for k in range(orders):
                acc += scale[k] * counts[rows[i, k], x]
            acc += bias
            if x == mb:
                acc += w_match * (q - other) if matching else 0.0
            out[i, x] = w_net * p_net[i, x] + acc


@njit(cache=True, nogil=True)
def _update(symbols, mixed, active, p_net, counts, totals, rows, sets, match_byte, match_q,
            context_hash, history, steps, prior, learning_rate, floor, count_limit, weights,
            match_model, match_len, match_ptr, match_table, block, match_hits, match_trials,
            starts, lengths):  # noqa: ANN001
    lanes = symbols.shape[0]
    orders = rows.shape[1]
    max_order = orders - 1
    n_models = weights.shape[1]
    p_models = np.empty(n_models)
    # mixture weights: a Bayesian update with a floor, lane after lane
    for i in range(lanes):
        if not active[i]:
            continue
        sym = symbols[i]
        s = sets[i]
        matching = match_len[i] > 0
        hit = matching and match_byte[i] == sym
        p_models[0] = p_net[i, sym]
        for k in range(orders):
            p_models[k + 1] = (counts[rows[i, k], sym] + prior) / (totals[rows[i, k]] + 256 * prior)
        q = match_q[i]
        p_models[n_models - 1] = q if hit else ((1.0 - q) / 255.0 if matching else q)
        p_mix = mixed[i, sym]
        for m in range(n_models):
            weights[s, m] *= 1.0 - learning_rate + learning_rate * p_models[m] / p_mix
    done = np.zeros(weights.shape[0], dtype=np.bool_)
    for i in range(lanes):  # normalise every touched set once
        if not active[i] or done[sets[i]]:
            continue
        s = sets[i]
        done[s] = True
        total = weights[s, 0]
        for m in range(1, n_models):
            total += weights[s, m]
        for m in range(n_models):
            weights[s, m] = (1.0 - floor) * (weights[s, m] / total) + floor / n_models
    # the match model: record the bytes, score and advance matches, index the contexts
    for i in range(lanes):
        matching = match_len[i] > 0
        hit = matching and match_byte[i] == symbols[i]
        length = min(match_len[i], MATCH_LEN_CAP)
        running = steps < lengths[i]
        if running:
            block[starts[i] + steps] = symbols[i]
            if matching:
                match_trials[length] += 1.0
            if hit:
                match_hits[length] += 1.0
        match_len[i] = match_len[i] + 1 if hit else 0
        match_ptr[i] = match_ptr[i] + 1 if hit else -1
    if steps >= max_order:
        size = np.uint64(match_table.shape[0])
        for i in range(lanes):
            if steps < lengths[i]:
                match_table[np.int64((context_hash[i] >> np.uint64(16)) % size)] = starts[i] + steps
    # counts: one more of each coded byte in its contexts, halved when one passes the limit
    for k in range(orders):
        for i in range(lanes):
            if active[i]:
                r, sym = rows[i, k], symbols[i]
                if counts[r, sym] < 255:
                    counts[r, sym] += 1
                totals[r] += 1
        for i in range(lanes):
            if active[i]:
                r, sym = rows[i, k], symbols[i]
                if counts[r, sym] > count_limit:
                    total = np.int64(0)
                    for x in range(256):
                        counts[r, x] >>= 1
                        total += counts[r, x]
                    totals[r] = total
    for i in range(lanes):
        for k in range(history.shape[1] - 1, 0, -1):
            history[i, k] = history[i, k - 1]
        history[i, 0] = np.uint64(symbols[i])


class ContextMixer:
    """Per-block adaptive statistics for lanes of the given lengths, coded in lock-step."""

    def __init__(self, cfg: MixerConfig, lengths: np.ndarray) -> None:
        self.cfg = cfg
        self.lanes = lanes = len(lengths)
        block_len = int(np.sum(lengths))
        log2_rows = min(cfg.log2_rows, max(10, block_len.bit_length()))
        sizes = [_order_rows(k, log2_rows) for k in range(cfg.max_order + 1)]
        self.sizes = np.array(sizes, dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        # np.full writes every page now: lazily zeroed pages would fault during coding
        self.counts = np.full((sum(sizes), 256), 0, dtype=np.uint8)
        self.totals = np.zeros(sum(sizes), dtype=np.int64)
        self.history = np.zeros((lanes, cfg.max_order), dtype=np.uint64)  # newest byte first
        self.steps = 0  # steps coded so far (every lane advances together)
        # match model state: the block as far as known, a context -> position table
        self.lengths = np.asarray(lengths, dtype=np.int64)
        self.starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        self.block = np.zeros(block_len + 1, dtype=np.int64)
        self.match_table = np.full(1 << log2_rows, -1, dtype=np.int64)
        self.match_ptr = np.full(lanes, -1, dtype=np.int64)  # position of the predicted byte
        self.match_len = np.zeros(lanes, dtype=np.int64)
        self.match_hits = np.ones(MATCH_LEN_CAP + 1)
        self.match_trials = np.full(MATCH_LEN_CAP + 1, 2.0)
        n_models = cfg.max_order + 3  # network, orders 0..max_order, match model
        n_sets = (cfg.max_order + 1) * 4 * (len(MATCH_EDGES) + 1)
        self.weights = np.empty((n_sets, n_models))
        self.weights[:, 0] = 0.5  # start by trusting the network
        self.weights[:, 1:] = 0.5 / (n_models - 1)
        self._rows = np.zeros((lanes, cfg.max_order + 1), dtype=np.int64)
        self._sets = np.zeros(lanes, dtype=np.int64)
        self._match_byte = np.zeros(lanes, dtype=np.int64)
        self._match_q = np.zeros(lanes)
        self._context_hash = np.zeros(lanes, dtype=np.uint64)
        self._p_net = np.zeros((lanes, 256))

    def mix(self, p_net: np.ndarray) -> np.ndarray:
        """Mixed distribution (lanes, 256) from the network's (lanes, 256), both float64."""
        self._p_net = np.ascontiguousarray(p_net, dtype=np.float64)
        out = np.empty((self.lanes, 256))
        _mix(self._p_net, self.counts, self.totals, self.offsets, self.sizes, self.history,
             self.steps, self.cfg.prior, self.weights, self.cfg.match_model, self.match_len,
             self.match_ptr, self.match_table, self.block, self.match_hits, self.match_trials,
             self.starts, self._rows, self._sets, self._match_byte, self._match_q,
             self._context_hash, out)
        return out

    def update(self, symbols: np.ndarray, mixed: np.ndarray, active: np.ndarray) -> None:
        """Learn from the bytes (lanes,) coded with `mixed` (lanes, 256) in the `active`
        lanes (lanes that have ended feed 0)."""
        cfg = self.cfg
        _update(np.ascontiguousarray(symbols, dtype=np.int64), mixed,
                np.ascontiguousarray(active, dtype=np.bool_), self._p_net, self.counts,
                self.totals, self._rows, self._sets, self._match_byte, self._match_q,
                self._context_hash, self.history, self.steps, cfg.prior, cfg.learning_rate,
                cfg.floor, cfg.count_limit, self.weights, cfg.match_model, self.match_len,
                self.match_ptr, self.match_table, self.block, self.match_hits,
                self.match_trials, self.starts, self.lengths)
        self.steps += 1
