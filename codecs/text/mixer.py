"""Adaptive byte statistics mixed with the neural prediction.

Every lane of a block shares one set of statistics, updated after each step with the bytes
of all lanes, so strings seen anywhere earlier in the block sharpen later predictions:

- order-k counts (k = 0..max_order) of the byte that followed each context;
- a match model: the byte that followed the last occurrence of the current order-5
  context in the block, trusted according to how long the match has held so far.

The final distribution is a linear mixture of the network's distribution and these
estimates, with weights learned online (a Bayesian mixture update with a floor) in sets
selected by the evidence at hand. Only integer operations and float64 +, -, *, / applied
one at a time in a fixed order are used (no float sums in an order a library picks, no
transcendental functions), so every machine computes identical float64 values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HASH_MULT = np.uint64(0x9E3779B97F4A7C15)
EVIDENCE_EDGES = [1, 3, 12]  # total counts bucketed into 4 evidence levels
MATCH_EDGES = [1, 8, 16, 32]  # match lengths bucketed into 5 levels (0 = no match)
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


class ContextMixer:
    """Per-block adaptive statistics for lanes of the given lengths, coded in lock-step."""

    def __init__(self, cfg: MixerConfig, lengths: np.ndarray) -> None:
        self.cfg = cfg
        self.lanes = lanes = len(lengths)
        block_len = int(np.sum(lengths))
        log2_rows = min(cfg.log2_rows, max(10, block_len.bit_length()))
        self.rows = [_order_rows(k, log2_rows) for k in range(cfg.max_order + 1)]
        # np.full writes every page now: lazily zeroed pages would fault during coding
        self.counts = [np.full((r, 256), 0, dtype=np.uint8) for r in self.rows]
        self.totals = [np.zeros(r, dtype=np.int64) for r in self.rows]
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
        self._context_hash = np.zeros(lanes, dtype=np.uint64)
        n_models = cfg.max_order + 3  # network, orders 0..max_order, match model
        self.n_sets = (cfg.max_order + 1) * 4 * (len(MATCH_EDGES) + 1)
        self.weights = np.empty((self.n_sets, n_models))
        self.weights[:, 0] = 0.5  # start by trusting the network
        self.weights[:, 1:] = 0.5 / (n_models - 1)
        self._rows_idx: list[np.ndarray] = []
        self._totals: list[np.ndarray] = []
        self._set_idx = np.zeros(lanes, dtype=np.int64)
        self._p_net = np.zeros((lanes, 256))
        self._w_net = np.zeros((lanes, 1))
        self._partial = np.zeros((lanes, 256))
        self._match_byte = np.zeros(lanes, dtype=np.int64)
        self._match_q = np.zeros(lanes)

    def _context_rows(self) -> list[np.ndarray]:
        """Row index of every order's table for every lane (and the full context hash)."""
        rows = [np.zeros(self.lanes, dtype=np.int64)]
        h = np.zeros(self.lanes, dtype=np.uint64)
        for k in range(1, self.cfg.max_order + 1):
            byte = self.history[:, k - 1]
            if k <= 2:
                rows.append(rows[-1] * 256 + byte.astype(np.int64))
                h = (h ^ byte) * HASH_MULT
                continue
            h = (h ^ byte) * HASH_MULT + np.uint64(k)
            rows.append(((h >> np.uint64(20)) % np.uint64(self.rows[k])).astype(np.int64))
        self._context_hash = h
        return rows

    def _known(self, pos: np.ndarray) -> np.ndarray:
        """Whether block positions are already coded (lanes advance in lock-step)."""
        lane = np.searchsorted(self.starts, pos, side="right") - 1
        return (pos >= 0) & (pos - self.starts[np.maximum(lane, 0)] < self.steps)

    def _match_slots(self, hashes: np.ndarray) -> np.ndarray:
        """Rows of the match table for context hashes."""
        return ((hashes >> np.uint64(16)) % np.uint64(len(self.match_table))).astype(np.int64)

    def _find_matches(self) -> None:
        """Start a match for lanes without one, from the order-5 context table."""
        if not self.cfg.match_model:
            return
        idle = (self.match_len == 0) & (self.steps >= self.cfg.max_order)
        if idle.any():
            found = self.match_table[self._match_slots(self._context_hash[idle])]
            self.match_ptr[idle] = found
            self.match_len[idle] = np.where(found >= 0, 1, 0)
        lost = (self.match_len > 0) & ~self._known(self.match_ptr)
        self.match_len[lost] = 0

    def prepare(self) -> None:
        """Everything of the next mixture that does not need the network (run while it runs).

        Each order's estimate is (count + prior) / (total + 256 prior); the match model puts
        q on its predicted byte and (1 - q) / 255 on each other byte; their weighted sum is
        accumulated without materialising the estimates.
        """
        prior = self.cfg.prior
        self._rows_idx = self._context_rows()
        self._find_matches()
        self._totals = [self.totals[k][rows] for k, rows in enumerate(self._rows_idx)]
        best = np.zeros(self.lanes, dtype=np.int64)
        evidence = np.zeros(self.lanes, dtype=np.int64)
        for k, n in enumerate(self._totals):
            known = (n > 0) & (self.steps >= k)
            best = np.where(known, k, best)
            evidence = np.where(known, n, evidence)
        bucket = np.searchsorted(EVIDENCE_EDGES, evidence, side="right")
        match_bucket = np.searchsorted(MATCH_EDGES, self.match_len, side="right")
        self._set_idx = (best * 4 + bucket) * (len(MATCH_EDGES) + 1) + match_bucket
        w = self.weights[self._set_idx]
        self._w_net = w[:, :1]
        partial = np.zeros((self.lanes, 256))
        bias = np.zeros(self.lanes)
        for k, rows in enumerate(self._rows_idx):
            scale = w[:, k + 1] / (self._totals[k] + 256 * prior)
            partial += scale[:, None] * self.counts[k][rows]
            bias += scale * prior
        matching = self.match_len > 0
        length = np.minimum(self.match_len, MATCH_LEN_CAP)
        q = np.where(matching, self.match_hits[length] / self.match_trials[length], 1.0 / 256)
        self._match_q = q
        self._match_byte = np.where(
            matching, self.block[np.clip(self.match_ptr, 0, len(self.block) - 1)], 0)
        w_match = w[:, -1]
        other = (1.0 - q) / 255.0
        bias += w_match * np.where(matching, other, q)
        partial += bias[:, None]
        partial[np.arange(self.lanes), self._match_byte] += np.where(
            matching, w_match * (q - other), 0.0)
        self._partial = partial

    def mix(self, p_net: np.ndarray) -> np.ndarray:
        """Mixed distribution (lanes, 256) from the network's (lanes, 256), both float64;
        `prepare` must have run for this step."""
        self._p_net = p_net
        return self._w_net * p_net + self._partial

    def update(self, symbols: np.ndarray, mixed: np.ndarray, active: np.ndarray) -> None:
        """Learn from the bytes (lanes,) coded with `mixed` (lanes, 256) in the `active`
        lanes. Float updates are elementwise, or applied lane after lane in lane order
        (`ufunc.at`), and weight sums run left to right, so their rounding is fixed."""
        cfg = self.cfg
        lane = np.flatnonzero(active)
        sym = symbols[lane]
        matching = self.match_len > 0
        hit = matching & (self._match_byte == symbols)
        p_models = np.empty((len(lane), len(self._rows_idx) + 2))
        p_models[:, 0] = self._p_net[lane, sym]
        rows_active = [rows[lane] for rows in self._rows_idx]
        for k, rows in enumerate(rows_active):
            p_models[:, k + 1] = ((self.counts[k][rows, sym] + cfg.prior)
                                  / (self._totals[k][lane] + 256 * cfg.prior))
        q = self._match_q[lane]
        p_models[:, -1] = np.where(hit[lane], q, np.where(matching[lane], (1.0 - q) / 255.0, q))
        p_mix = mixed[lane, sym][:, None]
        factor = 1.0 - cfg.learning_rate + cfg.learning_rate * p_models / p_mix
        sets = self._set_idx[lane]
        np.multiply.at(self.weights, sets, factor)
        w = self.weights[sets]
        total = w[:, 0].copy()
        for j in range(1, w.shape[1]):
            total += w[:, j]
        w = w / total[:, None]
        w = (1.0 - cfg.floor) * w + cfg.floor / w.shape[1]
        self.weights[sets] = w  # lanes of one set write the same row
        self._update_match(symbols, matching, hit)
        for k, rows in enumerate(rows_active):
            cells, hits = np.unique(rows * 256 + sym, return_counts=True)
            flat = self.counts[k].reshape(-1)
            flat[cells] = np.minimum(flat[cells] + hits, 255)
            np.add.at(self.totals[k], rows, 1)
            full = self.counts[k][rows, sym] > cfg.count_limit
            if full.any():
                hot = np.unique(rows[full])
                self.counts[k][hot] >>= 1
                self.totals[k][hot] = self.counts[k][hot].sum(axis=1)
        self.history[:, 1:] = self.history[:, :-1]
        self.history[:, 0] = symbols.astype(np.uint64)
        self.steps += 1

    def _update_match(self, symbols: np.ndarray, matching: np.ndarray, hit: np.ndarray) -> None:
        """Record the coded bytes, score and advance matches, index the finished context."""
        active = self.steps < self.lengths
        pos = self.starts + self.steps
        self.block[pos[active]] = symbols[active]
        length = np.minimum(self.match_len, MATCH_LEN_CAP)
        np.add.at(self.match_trials, length[matching & active], 1.0)
        np.add.at(self.match_hits, length[hit & active], 1.0)
        self.match_len = np.where(hit, self.match_len + 1, 0)
        self.match_ptr = np.where(hit, self.match_ptr + 1, -1)
        # the context that predicted this byte now points at it
        if self.steps >= self.cfg.max_order:
            self.match_table[self._match_slots(self._context_hash[active])] = pos[active]
