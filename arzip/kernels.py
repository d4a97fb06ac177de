"""Compiled inner loops (numba) for the exact-arithmetic paths (no modality here).

numba compiles these loops once per machine (cached on disk). They use integers and
float64 +, -, *, / and rint one operation at a time in the order written: numba's default
(no fastmath) keeps IEEE 754 semantics, so LLVM neither reorders float operations nor
fuses them into FMAs (`tests/test_exact.py` checks the machine code for FMA
instructions). Their results are therefore the same on every machine. The exceptions,
`int_products` and `checked_copy`, sum integer products whose every partial sum is exact,
so the order and fusing that fast-math allows there cannot change a bit.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def logistic_mixture_pmf(edges: np.ndarray, mean: np.ndarray, inv_scale: np.ndarray,
                         weights: np.ndarray, floor: np.ndarray, cdf_table: np.ndarray,
                         cdf_step: float, out: np.ndarray) -> None:
    """Integer frequencies of a discretized logistic mixture, into out (n, len(edges)+1).

    Component k of row i has mean[i, k], inverse scale inv_scale[i, k] > 0 and integer
    weight weights[i, k]; its CDF at edge j is cdf_table[centre + rint((edges[j] - mean)
    * inv_scale * cdf_step)] (clipped to the table), from 0 below the first edge to
    cdf_table[-1] above the last. out[i, v] = floor[i] + sum_k weights[i, k] * (CDF at
    edge v - CDF at edge v - 1): integers below 2^53, so exact as float64.
    """
    n, k_count = mean.shape
    bins = edges.shape[0] + 1
    centre = (cdf_table.shape[0] - 1) // 2
    top = cdf_table[cdf_table.shape[0] - 1]
    for i in range(n):
        for v in range(bins):
            out[i, v] = floor[i]
        for k in range(k_count):
            w = weights[i, k]
            if w == 0.0:
                continue
            mu = mean[i, k]
            inv = inv_scale[i, k]
            prev = cdf_table[0]
            # edges whose index is surely clipped to the table's first entry add nothing:
            # start a little below the first edge that may not be (a bound, not a value)
            low_edge = mu - (centre + 4.0) / (inv * cdf_step)
            first = int(math.floor((low_edge - edges[0]) / (edges[1] - edges[0]))) - 2
            for j in range(max(first, 0), bins - 1):
                u = np.rint((edges[j] - mu) * inv * cdf_step)
                if u > centre:
                    u = centre
                elif u < -centre:
                    u = -centre
                c = cdf_table[int(u) + centre]
                out[i, j] += w * (c - prev)
                prev = c
                if c == top:
                    break
            out[i, bins - 1] += w * (top - prev)


@njit(cache=True, nogil=True)
def affine_lookup(acc: np.ndarray, factor: np.ndarray, bias: np.ndarray, step: float,
                  table: np.ndarray, out: np.ndarray) -> None:
    """out[i, j] = table[centre + clip(rint((acc[i, j] * factor[j] + bias[j]) * step))]:
    a layer's real output (integer accumulators times per-column factors, plus bias) put
    through a function tabulated at 1/step steps around the table's centre."""
    centre = (table.shape[0] - 1) // 2
    n, m = acc.shape
    for i in range(n):
        for j in range(m):
            u = np.rint((acc[i, j] * factor[j] + bias[j]) * step)
            if u > centre:
                u = centre
            elif u < -centre:
                u = -centre
            out[i, j] = table[int(u) + centre]


@njit(cache=True, nogil=True)
def gated_residual(acc: np.ndarray, factor: np.ndarray, bias: np.ndarray, step: float,
                   sigmoid: np.ndarray, to_resid: float, limit: float, h: np.ndarray) -> None:
    """h += rint(a * sigmoid(b) * to_resid) in place, clipped to ±limit, where the layer's
    real outputs (acc * factor + bias) are a (first half of the columns) and b (second
    half); sigmoid(b) is tabulated at 1/step steps around the table's centre."""
    centre = (sigmoid.shape[0] - 1) // 2
    n, m = h.shape
    for i in range(n):
        for j in range(m):
            a = acc[i, j] * factor[j] + bias[j]
            u = np.rint((acc[i, j + m] * factor[j + m] + bias[j + m]) * step)
            if u > centre:
                u = centre
            elif u < -centre:
                u = -centre
            v = h[i, j] + np.rint(a * sigmoid[int(u) + centre] * to_resid)
            if v > limit:
                v = limit
            elif v < -limit:
                v = -limit
            h[i, j] = v


@njit(cache=True, nogil=True)
def scaled_lookup(x: np.ndarray, scale: float, table: np.ndarray, out: np.ndarray) -> None:
    """out[i, j] = table[centre + clip(rint(x[i, j] * scale))]."""
    centre = (table.shape[0] - 1) // 2
    n, m = x.shape
    for i in range(n):
        for j in range(m):
            u = np.rint(x[i, j] * scale)
            if u > centre:
                u = centre
            elif u < -centre:
                u = -centre
            out[i, j] = table[int(u) + centre]


LN2 = 0.6931471805599453  # the float64 nearest ln 2 (a constant, not a libm result)
LOG2E = 1.4426950408889634  # the float64 nearest 1 / ln 2


@njit(cache=True, nogil=True)
def ln(x: float, table: np.ndarray) -> float:
    """ln(x) for x > 0 from frexp and `exact.log_table` (error below 1.3e-4)."""
    m, e = math.frexp(x)  # x = m 2^e, m in [0.5, 1): exact
    idx = int(np.rint((2.0 * m - 1.0) * 4096.0))
    return (e - 1) * LN2 + table[idx]


@njit(cache=True, nogil=True)
def exp(y: float, table: np.ndarray) -> float:
    """e^y from ldexp and `exact.exp2_table` (relative error below 1.8e-4)."""
    z = y * LOG2E
    k = math.floor(z)
    idx = int(np.rint((z - k) * 4096.0))
    return math.ldexp(table[idx], int(k))


@njit(cache=True, nogil=True)
def laplace_params(means: np.ndarray, scales: np.ndarray, log_table: np.ndarray,
                   ln_scale_min: float, scales_count: int, fractions: int,
                   base: np.ndarray, index: np.ndarray, fraction: np.ndarray) -> None:
    """The exact coding parameters of Laplace(means, scales > 0): base = floor(mean), the
    mean's fraction in 1/fractions steps, and the scale index j = rint(8 log2(scale /
    0.05)) clipped to 0 .. scales_count - 1 (`exact.laplace_row`)."""
    per_octave = 8.0 * LOG2E
    for i in range(means.shape[0]):
        m = math.floor(means[i])
        base[i] = m
        fraction[i] = min(int(math.floor((means[i] - m) * fractions)), fractions - 1)
        j = np.rint((ln(scales[i], log_table) - ln_scale_min) * per_octave)
        index[i] = int(min(max(j, 0.0), scales_count - 1.0))


@njit(cache=True, nogil=True)
def laplace_values(coarse: np.ndarray, base: np.ndarray, shift: np.ndarray, window: int,
                   bins: int, values: np.ndarray, widths: np.ndarray) -> tuple[int, int]:
    """From decoded coarse bins (`exact.laplace_row`'s, 0 and bins - 1 the escapes): each
    value's bin start, base + (coarse - window - 1) 2^shift, and widths: the size 2^shift
    of the offset still to decode in the bin (0: none, or an escape: -1). Returns how
    many have an offset and how many are escapes."""
    offsets, escapes = 0, 0
    for i in range(coarse.shape[0]):
        c = coarse[i]
        if c == 0 or c == bins - 1:
            widths[i] = -1
            values[i] = 0
            escapes += 1
            continue
        values[i] = base[i] + ((c - window - 1) << shift[i])
        widths[i] = (1 << shift[i]) if shift[i] > 0 else 0
        offsets += 1 if shift[i] > 0 else 0
    return offsets, escapes


@njit(cache=True, nogil=True)
def gather_rows(rows: np.ndarray, built: np.ndarray, shifts: np.ndarray, index: np.ndarray,
                fraction: np.ndarray, fractions: int, out: np.ndarray, shift: np.ndarray
                ) -> bool:
    """out[i] = rows[index[i] * fractions + fraction[i]] and shift[i] = shifts[index[i]];
    False (out unfinished) if one of those rows is not built yet."""
    for i in range(index.shape[0]):
        key = index[i] * fractions + fraction[i]
        if not built[key]:
            return False
        out[i] = rows[key]
        shift[i] = shifts[index[i]]
    return True


@njit(cache=True, nogil=True)
def within(values: np.ndarray, low: int, high: int) -> bool:
    """Whether every value lies in low..high."""
    for i in range(values.shape[0]):
        if values[i] < low or values[i] > high:
            return False
    return True


@njit(cache=True, nogil=True)
def layer_norm(r: np.ndarray, eps: float, gain: np.ndarray, bias: np.ndarray, limit: float,
               out: np.ndarray) -> None:
    """LayerNorm of integer rows r (n, d) to integers: with D = d r - sum(r) (exact) and
    V = sum(D^2) (exact), out = clip(rint(D / sqrt(V + eps) * gain + bias), ±limit), where
    gain includes sqrt(d) and the output scale."""
    n, d = r.shape
    for i in range(n):
        total = 0  # integer sums, exact in int64 (so they may vectorise) and in float64
        # below: the residual's |r| <= 2^14 and d <= 128 keep V <= d^3 2^30 <= 2^51
        for j in range(d):
            total += np.int64(r[i, j])
        var = 0
        for j in range(d):
            dev = np.int64(r[i, j]) * d - total
            var += dev * dev
        inv = 1.0 / np.sqrt(np.float64(var) + eps)
        for j in range(d):
            v = np.rint((r[i, j] * d - total) * inv * gain[j] + bias[j])
            out[i, j] = min(max(v, -limit), limit)


@njit(cache=True, nogil=True)
def requant(acc: np.ndarray, factor: np.ndarray, bias: np.ndarray, mult: np.ndarray,
            limit: float, out: np.ndarray) -> None:
    """out = clip(rint((acc * factor + bias) * mult), ±limit) per column (n, m)."""
    n, m = acc.shape
    for i in range(n):
        for j in range(m):
            v = np.rint((acc[i, j] * factor[j] + bias[j]) * mult[j])
            out[i, j] = min(max(v, -limit), limit)


@njit(cache=True, nogil=True)
def residual_add(r: np.ndarray, acc: np.ndarray, factor: np.ndarray, bias: np.ndarray,
                 mult: float, limit: float) -> None:
    """r += clip(rint((acc * factor + bias) * mult), ±limit) in place (n, m)."""
    n, m = acc.shape
    for i in range(n):
        for j in range(m):
            v = np.rint((acc[i, j] * factor[j] + bias[j]) * mult)
            r[i, j] += min(max(v, -limit), limit)


@njit(cache=True, nogil=True)
def index_lookup(acc: np.ndarray, scale: np.ndarray, offset: np.ndarray, low: int, high: int,
                 table: np.ndarray, out: np.ndarray) -> None:
    """out = table[clip(rint(acc * scale + offset), -low, high) + low] per column (n, m)."""
    n, m = acc.shape
    for i in range(n):
        for j in range(m):
            u = np.rint(acc[i, j] * scale[j] + offset[j])
            u = min(max(u, -low), high)
            out[i, j] = table[int(u) + low]


@njit(cache=True, nogil=True)
def gap_lookup(acc: np.ndarray, factor: np.ndarray, bias: np.ndarray, steps: float,
               table: np.ndarray, out: np.ndarray) -> None:
    """Integer frequencies from logits: with y = acc * factor + bias per row (n, m),
    out = table[min(rint((max(y) - y) * steps), len(table) - 1)] (table: exp at 1/steps)."""
    n, m = acc.shape
    y = np.empty(m)
    last = table.shape[0] - 1
    for i in range(n):
        top = -np.inf
        for j in range(m):
            y[j] = acc[i, j] * factor[j] + bias[j]
            if y[j] > top:
                top = y[j]
        for j in range(m):
            u = min(np.rint((top - y[j]) * steps), float(last))
            out[i, j] = table[int(u)]


@njit(cache=True, nogil=True)
def window_weights(scores: np.ndarray, first_query: int, first_key: int, window: int,
                   heads: int, factor: np.float32, table: np.ndarray, out: np.ndarray) -> None:
    """Integer softmax weights (float32) of exact integer float32 scores (lanes, rows,
    keys) of a causal sliding window: row r is head r % heads of the query at position
    first_query + r // heads, key j at position first_key + j; a query sees its own
    position and the window - 1 before it. Seen keys get table[min(rint((max - score) *
    factor), last)] (max over the seen keys), the others table's last entry (0): the
    weights `attend_lane` gives."""
    lanes, rows, keys = scores.shape
    last = np.float32(table.shape[0] - 1)
    index = np.empty(keys, dtype=np.int32)
    for b in range(lanes):
        for r in range(rows):
            hi = min(first_query + r // heads + 1 - first_key, keys)
            lo = max(0, hi - window)
            s = scores[b, r]
            top = s[lo]
            for j in range(lo + 1, hi):
                top = max(top, s[j])
            for j in range(keys):  # a loop apart from the gather vectorises
                index[j] = np.int32(min(np.rint((top - s[j]) * factor), last))
            for j in range(lo):
                index[j] = np.int32(last)
            for j in range(hi, keys):
                index[j] = np.int32(last)
            w = out[b, r]
            for j in range(keys):
                w[j] = table[index[j]]


@njit(cache=True, nogil=True)
def weighted_mean(num: np.ndarray, factor: np.float32, limit: float, out: np.ndarray) -> None:
    """out[..., d] = clip(rint(num[..., d] / num[..., -1] * factor), ±limit) in float32 for
    num (lanes, rows, width + 1) whose last column is the weights' sum (an integer)."""
    lanes, rows, width = out.shape
    for b in range(lanes):
        for r in range(rows):
            den = num[b, r, width]
            for d in range(width):
                v = np.rint(num[b, r, d] / den * factor)
                out[b, r, d] = min(max(v, np.float32(-limit)), np.float32(limit))


@njit(cache=True, nogil=True, inline="always")
def _rotate_pairs(x: np.ndarray, at: int, cos: np.ndarray, sin: np.ndarray, shift: float,
                  out: np.ndarray) -> None:
    """out = rint((pairs of x[at:at + 2 len(cos)] rotated by the integer cos/sin) * shift)
    in float64, then stored in out (float32): the rotary embedding of one head."""
    for i in range(cos.shape[0]):
        x1 = x[at + 2 * i]
        x2 = x[at + 2 * i + 1]
        out[2 * i] = np.rint((x1 * cos[i] - x2 * sin[i]) * shift)
        out[2 * i + 1] = np.rint((x1 * sin[i] + x2 * cos[i]) * shift)


@njit(cache=True, nogil=True)
def rotate_heads(x: np.ndarray, cos: np.ndarray, sin: np.ndarray, shift: float,
                 out: np.ndarray) -> None:
    """The rotary embedding of x (lanes, steps, heads, hd) at positions whose integer
    cos/sin rows are cos[t], sin[t] (steps, hd/2): out = rint(rotated * shift), float32."""
    lanes, steps, heads, _ = x.shape
    for b in range(lanes):
        for t in range(steps):
            for h in range(heads):
                _rotate_pairs(x[b, t, h], 0, cos[t], sin[t], shift, out[b, t, h])


@njit(cache=True, nogil=True, fastmath={"reassoc"})
def _weighted_sums(weights: np.ndarray, values: np.ndarray, n: int, out: np.ndarray) -> None:
    """out[d] = sum_j<n weights[j] values[d, j] (float32): integer products whose every
    partial sum stays below 2^24 (`attend_step`), so exact in any order; reassociation
    lets the sums vectorise (no fused multiply-add: `contract` is off)."""
    for d in range(values.shape[0]):
        total = np.float32(0.0)
        for j in range(n):
            total += weights[j] * values[d, j]
        out[d] = total


@njit(cache=True, nogil=True, inline="always")
def attend_lane(qkv: np.ndarray, heads: int, cos: np.ndarray, sin: np.ndarray, shift: float,
                keys_k: np.ndarray, keys_v: np.ndarray, slot: int, seen: int,
                score: np.float32, table: np.ndarray, att: np.float32, limit: float,
                out: np.ndarray) -> None:
    """`attend_step` of one lane: qkv (heads hd + 2 hd,), its ring keys_k and keys_v
    (hd, slots each), out (heads hd,)."""
    hd = keys_k.shape[0]
    slots = keys_k.shape[1]
    last = np.float32(table.shape[0] - 1)
    q = np.empty(hd, dtype=np.float32)
    k = np.empty(hd, dtype=np.float32)
    scores = np.empty(slots, dtype=np.float32)
    weights = np.empty(slots, dtype=np.float32)
    num = np.empty(hd, dtype=np.float32)
    n = min(seen, slots)
    _rotate_pairs(qkv, heads * hd, cos, sin, shift, k)
    for d in range(hd):
        keys_k[d, slot] = k[d]
        keys_v[d, slot] = np.float32(qkv[heads * hd + hd + d])
    for h in range(heads):
        _rotate_pairs(qkv, h * hd, cos, sin, shift, q)
        for j in range(n):
            scores[j] = np.float32(0.0)
        for d in range(hd):
            qd = q[d]
            for j in range(n):
                scores[j] += qd * keys_k[d, j]
        top = scores[0]
        for j in range(1, n):
            if scores[j] > top:
                top = scores[j]
        for j in range(n):  # a loop without a float sum vectorises
            weights[j] = table[int(min(np.rint((top - scores[j]) * score), last))]
        total = 0  # the weights are integers: their sum is exact in any order
        for j in range(n):
            total += int(weights[j])
        den = np.float32(total)
        _weighted_sums(weights, keys_v, n, num)
        for d in range(hd):
            v = np.rint(num[d] / den * att)
            out[h * hd + d] = min(max(v, np.float32(-limit)), np.float32(limit))


@njit(cache=True, nogil=True)
def attend_step(qkv: np.ndarray, heads: int, cos: np.ndarray, sin: np.ndarray, shift: float,
                keys_k: np.ndarray, keys_v: np.ndarray, slot: int, seen: int,
                score: np.float32, table: np.ndarray, att: np.float32, limit: float,
                out: np.ndarray) -> None:
    """One decoding step of multi-query attention with integer softmax, per row b of qkv
    (rows, heads hd + 2 hd: the queries, the key, the value): the key is rotated into
    keys_k[b, :, slot], the value stored in keys_v[b, :, slot]; each head's rotated query
    scores the first `seen` slots of the ring (all when seen >= its length); the weights
    are table[min(rint((max - score) * score), last)] (0 for unseen slots) and out[b, h]
    = clip(rint(sum_j w_j v_j / sum_j w_j * att), +-limit). Every sum is of integers below
    2^24 in float32, so exact in any order: the same values as the batched numpy path."""
    for b in range(qkv.shape[0]):
        attend_lane(qkv[b], heads, cos, sin, shift, keys_k[b], keys_v[b], slot, seen, score,
                    table, att, limit, out[b])


@njit(cache=True, nogil=True, fastmath={"contract", "reassoc"})
def int_products(x: np.ndarray, n: int, wt: np.ndarray, out: np.ndarray) -> None:
    """out[:n, :N] = x[:n] @ wt.T for integer-valued x (rows, K) and wt (N, K), summed in
    out's dtype, whose products summed over K stay exactly representable (below 2^24 in
    float32, 2^53 in float64: `exact.IntLinear`'s bound): every partial sum is then an
    exact integer, so fused multiply-adds and any summation order (the vectorised dot
    products here, which fast-math allows) give the same integers as any BLAS (without
    `contract` 8 % slower). Four outputs of two rows at a time, the sums in registers
    (float32, 8-16 rows: as fast as OpenBLAS; fewer rows faster)."""
    big_k, big_n = wt.shape[1], wt.shape[0]
    zero = np.zeros(1, out.dtype)[0]
    j = 0
    while j + 4 <= big_n:
        w0, w1, w2, w3 = wt[j], wt[j + 1], wt[j + 2], wt[j + 3]
        i = 0
        while i + 2 <= n:
            x0, x1 = x[i], x[i + 1]
            s00 = s01 = s02 = s03 = s10 = s11 = s12 = s13 = zero
            for k in range(big_k):
                a, b = x0[k], x1[k]
                s00 += a * w0[k]
                s01 += a * w1[k]
                s02 += a * w2[k]
                s03 += a * w3[k]
                s10 += b * w0[k]
                s11 += b * w1[k]
                s12 += b * w2[k]
                s13 += b * w3[k]
            out[i, j], out[i, j + 1], out[i, j + 2], out[i, j + 3] = s00, s01, s02, s03
            out[i + 1, j], out[i + 1, j + 1], out[i + 1, j + 2], out[i + 1, j + 3] = \
                s10, s11, s12, s13
            i += 2
        if i < n:
            x0 = x[i]
            s00 = s01 = s02 = s03 = zero
            for k in range(big_k):
                a = x0[k]
                s00 += a * w0[k]
                s01 += a * w1[k]
                s02 += a * w2[k]
                s03 += a * w3[k]
            out[i, j], out[i, j + 1], out[i, j + 2], out[i, j + 3] = s00, s01, s02, s03
        j += 4
    while j < big_n:
        for i in range(n):
            s = zero
            for k in range(big_k):
                s += x[i, k] * wt[j, k]
            out[i, j] = s
        j += 1


@njit(cache=True, nogil=True, fastmath={"contract", "reassoc"})
def checked_copy(sums: np.ndarray, x: np.ndarray, r: np.ndarray, wr: np.ndarray,
                 out: np.ndarray) -> bool:
    """Freivalds' check of an integer product computed elsewhere, fused with its copy:
    out[:] = sums (rows, N), then True iff every row i has sums[i] @ r[v] == x[i] @ wr[v]
    for the two random vectors r[v] (N,), wr[v] = w @ r[v] (K; w (K, N) the other factor).
    Every term is an integer and every partial sum stays below 2^53 (the caller bounds
    r), so float64 gives the exact integers in any order. A row with a wrong entry passes
    one vector with probability at most 1 / (the number of values r's entries take)."""
    r0, r1, w0, w1 = r[0], r[1], wr[0], wr[1]
    for i in range(sums.shape[0]):
        row, xi = sums[i], x[i]
        a0 = a1 = b0 = b1 = 0.0
        for j in range(sums.shape[1]):
            value = np.float64(row[j])
            out[i, j] = value
            a0 += value * r0[j]
            a1 += value * r1[j]
        for k in range(x.shape[1]):
            value = np.float64(xi[k])
            b0 += value * w0[k]
            b1 += value * w1[k]
        if a0 != b0 or a1 != b1:
            return False  # out is left part-filled: the caller discards it
    return True


@njit(cache=True, nogil=True)
def temper(probs: np.ndarray, inv_t: float, log_table: np.ndarray, exp2_table: np.ndarray,
           out: np.ndarray) -> None:
    """out[i] = p^(1/T) / sum_x p^(1/T) for each row of probs (sampling temperature T):
    exp((ln p - ln p_max) / T) through the exact `ln`/`exp` tables, summed in index order."""
    for i in range(probs.shape[0]):
        top = 0.0
        for x in range(probs.shape[1]):
            top = max(top, probs[i, x])
        ln_top = ln(top, log_table)
        total = 0.0
        for x in range(probs.shape[1]):
            p = probs[i, x]
            w = exp((ln(p, log_table) - ln_top) * inv_t, exp2_table) if p > 0.0 else 0.0
            out[i, x] = w
            total += w
        for x in range(probs.shape[1]):
            out[i, x] /= total
