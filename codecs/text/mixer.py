"""Adaptive order-k byte statistics mixed with the neural prediction.

Every lane of a block shares one set of count tables, updated after each step with the bytes
of all lanes, so repeated strings anywhere earlier in the block sharpen later predictions.
The final distribution is a linear mixture of the network's distribution and one estimate
per context order, with weights learned online (a Bayesian mixture update with a floor) and
selected by how much evidence the longest matching context has. Only +, *, / and integer
operations are used, so encoder and decoder compute identical float64 values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HASH_MULT = np.uint64(0x9E3779B97F4A7C15)


@dataclass(frozen=True)
class MixerConfig:
    """Settings of the adaptive statistics; stored in the .arz header."""

    max_order: int = 6
    log2_rows: int = 18  # rows of each hashed table (orders >= 3), capped by the block size
    count_limit: int = 250  # counts (uint8) are halved when one exceeds this
    prior: float = 0.0005  # additive prior of each order's estimate (per symbol)
    learning_rate: float = 0.02
    floor: float = 0.002  # share of weight each model keeps (fixed-share)


def _order_rows(order: int, log2_rows: int) -> int:
    if order <= 2:
        return 256 ** order
    return 1 << log2_rows


class ContextMixer:
    """Per-block adaptive statistics for `lanes` lanes coded in lock-step."""

    def __init__(self, cfg: MixerConfig, lanes: int, block_len: int) -> None:
        self.cfg = cfg
        self.lanes = lanes
        log2_rows = min(cfg.log2_rows, max(10, int(block_len).bit_length()))
        self.rows = [_order_rows(k, log2_rows) for k in range(cfg.max_order + 1)]
        # np.full writes every page now: lazily zeroed pages would fault during coding
        self.counts = [np.full((r, 256), 0, dtype=np.uint8) for r in self.rows]
        self.totals = [np.zeros(r, dtype=np.int64) for r in self.rows]
        self.history = np.zeros((lanes, cfg.max_order), dtype=np.uint64)  # newest byte first
        self.seen = np.zeros(lanes, dtype=np.int64)  # bytes seen per lane (orders need history)
        n_models = cfg.max_order + 2  # network + orders 0..max_order
        self.n_sets = (cfg.max_order + 1) * 4
        self.weights = np.full((self.n_sets, n_models), 1.0 / n_models)
        self.weights[:, 0] = 0.5  # start by trusting the network
        self.weights[:, 1:] = 0.5 / (n_models - 1)
        self._rows_idx: list[np.ndarray] = []
        self._totals: list[np.ndarray] = []
        self._set_idx = np.zeros(lanes, dtype=np.int64)
        self._p_net = np.zeros((lanes, 256))

    def _context_rows(self) -> list[np.ndarray]:
        """Row index of every order's table for every lane."""
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
        return rows

    def mix(self, p_net: np.ndarray) -> np.ndarray:
        """Mixed distribution (lanes, 256) from the network's (lanes, 256), both float64.

        Each order's estimate is (count + prior) / (total + 256 prior); the mixture
        w_0 p_net + sum_k w_k estimate_k is accumulated without materialising estimates.
        """
        prior = self.cfg.prior
        self._rows_idx = self._context_rows()
        self._totals = [self.totals[k][rows] for k, rows in enumerate(self._rows_idx)]
        best = np.zeros(self.lanes, dtype=np.int64)
        evidence = np.zeros(self.lanes, dtype=np.int64)
        for k, n in enumerate(self._totals):
            known = (n > 0) & (self.seen >= k)
            best = np.where(known, k, best)
            evidence = np.where(known, n, evidence)
        bucket = np.minimum(3, np.searchsorted([1, 3, 12], evidence, side="right"))
        self._set_idx = best * 4 + bucket
        w = self.weights[self._set_idx]
        self._p_net = p_net
        mixed = w[:, :1] * p_net
        bias = np.zeros(self.lanes)
        for k, rows in enumerate(self._rows_idx):
            scale = w[:, k + 1] / (self._totals[k] + 256 * prior)
            mixed += scale[:, None] * self.counts[k][rows]
            bias += scale * prior
        mixed += bias[:, None]
        return mixed

    def update(self, symbols: np.ndarray, mixed: np.ndarray) -> None:
        """Learn from the bytes (lanes,) that were coded with `mixed` (lanes, 256)."""
        cfg = self.cfg
        lane = np.arange(self.lanes)
        p_models = np.empty((self.lanes, len(self._rows_idx) + 1))
        p_models[:, 0] = self._p_net[lane, symbols]
        for k, rows in enumerate(self._rows_idx):
            p_models[:, k + 1] = ((self.counts[k][rows, symbols] + cfg.prior)
                                  / (self._totals[k] + 256 * cfg.prior))
        p_mix = mixed[lane, symbols][:, None]
        factor = 1.0 - cfg.learning_rate + cfg.learning_rate * p_models / p_mix
        np.multiply.at(self.weights, self._set_idx, factor)
        w = self.weights[self._set_idx]
        w = w / w.sum(axis=1, keepdims=True)
        w = (1.0 - cfg.floor) * w + cfg.floor / w.shape[1]
        self.weights[self._set_idx] = w
        for k, rows in enumerate(self._rows_idx):
            cells, hits = np.unique(rows * 256 + symbols, return_counts=True)
            flat = self.counts[k].reshape(-1)
            flat[cells] = np.minimum(flat[cells] + hits, 255)
            touched, hits = np.unique(rows, return_counts=True)
            self.totals[k][touched] += hits
            full = self.counts[k][rows, symbols] > cfg.count_limit
            if full.any():
                hot = np.unique(rows[full])
                self.counts[k][hot] >>= 1
                self.totals[k][hot] = self.counts[k][hot].sum(axis=1)
        self.history[:, 1:] = self.history[:, :-1]
        self.history[:, 0] = symbols.astype(np.uint64)
        self.seen += 1
