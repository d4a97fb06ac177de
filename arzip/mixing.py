"""Binary context mixing primitives, shared by every codec (integers only, numba).

The lineage is paq8/lpaq/cmix (from their public descriptions; our own code): a symbol is
coded as binary decisions; each context model gives the probability that the next bit is
1; the probabilities are stretched to the logistic domain, st(p) = ln(p / (1 - p)),
combined by a mixer whose weights are trained online, refined by adaptive probability maps
(APM/SSE), and the final probability drives a binary arithmetic coder.

Everything is integer arithmetic on integer tables built exactly (`exact.sigmoid_table`),
so encoder and decoder agree on every machine:

- probabilities are 16-bit (1 .. 65535 out of 65536); the logistic domain is fixed point
  with 8 fractional bits, clipped to [-2047, 2047] (|st| < 8);
- `squash(x)` = SQUASH[x + 2047], `stretch(p)` = STRETCH[p] (its inverse);
- `Counter`: a probability and a hit count per slot; it moves toward each bit by
  1/(count + 1.5), the count capped by `limit` (small limits adapt fast);
- `Mixer`: int32 weights (16 fractional bits), one weight set per selector context;
  the dot product of stretched inputs is squashed; the update adds x * err * rate;
- `APM`: per context, 33 probabilities over the stretched input; the output interpolates
  the two nearest, the update moves both toward the bit;
- `Encoder`/`Decoder`: a 32-bit binary arithmetic coder (carry-free: the range is split
  at x1 + (x2 - x1) * p, and leading bytes shared by x1 and x2 are emitted).

The functions take their state arrays explicitly so a codec's compiled loop can call them
for many models and lanes; `counters`, `mixer` and `apm` allocate those arrays.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from numba import njit

from .exact import sigmoid_table

PROB_BITS = 16
PROB_ONE = 1 << PROB_BITS
HALF = PROB_ONE // 2  # probability 1/2
ST_MAX = 2047  # the logistic domain: [-2047, 2047] in steps of 1/256


def _squash_table() -> np.ndarray:
    table = sigmoid_table(Fraction(1, 256), ST_MAX, PROB_BITS).astype(np.int32)
    return np.clip(table, 1, PROB_ONE - 1).astype(np.int32)


def _stretch_table(squash: np.ndarray) -> np.ndarray:
    """For each 16-bit probability p, the x in the logistic domain whose squash is nearest
    (an inverse of the squash table, in integers)."""
    targets = np.arange(PROB_ONE, dtype=np.int64)
    right = np.searchsorted(squash, targets)  # first x with squash >= target
    right = np.clip(right, 1, len(squash) - 1)
    left = right - 1
    nearer_left = (targets - squash[left]) <= (squash[right] - targets)
    return (np.where(nearer_left, left, right) - ST_MAX).astype(np.int32)


SQUASH = _squash_table()
STRETCH = _stretch_table(SQUASH)
SQUASH.flags.writeable = False
STRETCH.flags.writeable = False
# 1 / (n + 1.5) in 16 fractional bits, for the counters' adaptation rates
RECIPROCAL = np.array([(2 * PROB_ONE + (2 * n + 3) // 2) // (2 * n + 3)
                       for n in range(1024)], dtype=np.int32)
RECIPROCAL.flags.writeable = False
# -log2(p / 2^16) for p = 0 .. 2^16: the ideal cost of a coded bit, for reports only (it
# never reaches a probability, so libm's log2 may differ across machines here)
COST = -np.log2(np.maximum(np.arange(PROB_ONE + 1), 0.5) / PROB_ONE)
COST.flags.writeable = False


@njit(cache=True, nogil=True, inline="always")
def squash(x):
    if x > ST_MAX:
        x = ST_MAX
    elif x < -ST_MAX:
        x = -ST_MAX
    return SQUASH[x + ST_MAX]


@njit(cache=True, nogil=True, inline="always")
def stretch(p):
    return STRETCH[p]


@njit(cache=True, nogil=True, inline="always")
def bit_probability(cum, lo, width):
    """P(next bit = 1) in 16 bits (1 .. 65535) of a symbol whose value lies in lo .. lo +
    width - 1, from a cumulative table of integer frequencies: the upper half's sum over
    the whole's, rounded; 1/2 where the whole is empty. How a model's distribution over
    values enters binary context mixing."""
    total = cum[lo + width] - cum[lo]
    if total <= 0:
        return 32768
    ones = cum[lo + width] - cum[lo + width // 2]
    p = (ones * PROB_ONE + total // 2) // total
    return 1 if p < 1 else (PROB_ONE - 1 if p > PROB_ONE - 1 else p)


@njit(cache=True, nogil=True, inline="always")
def hash2(a, b):
    """A 64-bit hash of two integers (cast to uint64): how a codec's hashed context models
    name their contexts (a multiply-xorshift mix)."""
    h = (np.uint64(a) * np.uint64(0x9E3779B97F4A7C15)) ^ (np.uint64(b)
                                                           + np.uint64(0x632BE59BD9B4E019))
    h ^= h >> np.uint64(29)
    h *= np.uint64(0xBF58476D1CE4E5B9)
    return h ^ (h >> np.uint64(32))


# --- counters: adaptive probabilities in slots --------------------------------------------

@njit(cache=True, nogil=True, inline="always")
def counter_update(prob, count, i, bit, limit, offset=0):
    """Move slot i's probability towards `bit` at rate 1 / (n + 1.5), n its count (up to
    `limit`); the slot holds the probability minus `offset` (HALF: `centred_counters`)."""
    n = count[i]
    p = np.int64(prob[i]) + offset
    target = PROB_ONE if bit else 0
    p += ((target - p) * RECIPROCAL[n]) >> PROB_BITS
    if p < 32:
        p = 32
    elif p > PROB_ONE - 32:
        p = PROB_ONE - 32
    prob[i] = p - offset
    if n < limit:
        count[i] = n + 1


def centred_counters(shape: tuple[int, ...]) -> np.ndarray:
    """Slots of probabilities stored minus HALF (int16), so a new table of them is all
    zeros: large tables come from the OS's zeroed pages, touched only where used, instead
    of being filled first (read them as `np.int64(slot) + HALF`; update with
    `counter_update(..., offset=HALF)`)."""
    return np.zeros(shape, dtype=np.int16)


def counters(size: int, count_dtype: type = np.uint16) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities at 1/2, counts at 0) for `size` slots (counts up to a limit of 255
    fit np.uint8)."""
    return np.full(size, PROB_ONE // 2, dtype=np.uint16), np.zeros(size, dtype=count_dtype)


# --- online least squares ------------------------------------------------------------------

@njit(cache=True, nogil=True, inline="always")
def ols_predict(w, x, n):
    """The least-squares predictor's value: w[:n] . x[:n], summed in index order."""
    acc = 0.0
    for k in range(n):
        acc += w[k] * x[k]
    return acc


@njit(cache=True, nogil=True)
def ols_update(cov, rhs, w, chol, x, n, y, lam, delta, solve):
    """Learn target y of features x[:n]: cov = lam cov + x x^T (its upper triangle), rhs =
    lam rhs + x y; when `solve`, w = (cov + delta I)^-1 rhs by Cholesky (cov = U^T U with
    U upper triangular in `chol`), w unchanged if a pivot is not positive. x holds 2n
    values: the second half is the solver's scratch.

    Float64, but every value is a fixed sequence of +, -, x, / and sqrt (IEEE-exact
    operations; compiled without fast-math, so neither reordered nor fused): the same on
    every machine. Each element's sums run in index order in every loop below, and the
    inner loops update independent elements, so they still vectorise."""
    for a in range(n):
        xa = x[a]
        for b in range(a, n):
            cov[a, b] = lam * cov[a, b] + xa * x[b]
        rhs[a] = lam * rhs[a] + xa * y
    if not solve:
        return
    for a in range(n):
        for b in range(a, n):
            chol[a, b] = cov[a, b]
        chol[a, a] = chol[a, a] + delta
    for k in range(n):
        d = chol[k, k]
        if d <= 0.0:
            return
        d = np.sqrt(d)
        chol[k, k] = d
        inv = 1.0 / d
        for b in range(k + 1, n):
            chol[k, b] = chol[k, b] * inv
        for a in range(k + 1, n):
            u = chol[k, a]
            for b in range(a, n):
                chol[a, b] = chol[a, b] - u * chol[k, b]
    z = x[n:2 * n]  # scratch: x holds 2n values
    for a in range(n):
        z[a] = rhs[a]
    for k in range(n):  # U^T z = rhs
        z[k] = z[k] / chol[k, k]
        for a in range(k + 1, n):
            z[a] = z[a] - chol[k, a] * z[k]
    for k in range(n - 1, -1, -1):  # U w = z
        w[k] = z[k] / chol[k, k]
        for a in range(k):
            z[a] = z[a] - chol[a, k] * w[k]


# --- mixer ---------------------------------------------------------------------------------

@njit(cache=True, nogil=True, inline="always")
def mix(weights, row, inputs, n):
    """The squashed dot product of inputs[:n] with weight set `row`, and the raw sum."""
    dot = np.int64(0)
    for k in range(n):
        dot += np.int64(inputs[k]) * weights[row, k]
    dot >>= 16
    return squash(dot), dot


@njit(cache=True, nogil=True, inline="always")
def mix_update(weights, row, inputs, n, p, bit, rate):
    """Move weight set `row` along the gradient of the coding cost (err = bit - p)."""
    err = ((PROB_ONE if bit else 0) - np.int64(p)) >> 4  # 12 bits
    err *= rate
    for k in range(n):
        w = weights[row, k] + ((np.int64(inputs[k]) * err) >> 14)
        if w > 0x7FFFFFF:
            w = 0x7FFFFFF
        elif w < -0x7FFFFFF:
            w = -0x7FFFFFF
        weights[row, k] = w


def mixer(rows: int, inputs: int, initial: int = 1 << 14) -> np.ndarray:
    """Weights of a mixer with `rows` weight sets of `inputs` weights (16 fractional
    bits; each starts at `initial`, 0.25 by default)."""
    return np.full((rows, inputs), initial, dtype=np.int32)


# --- adaptive probability maps -------------------------------------------------------------

@njit(cache=True, nogil=True, inline="always")
def apm_p(table, ctx, p):
    """Refined probability of p in context ctx, and the index of the lower bucket with
    the interpolation weight (for apm_update)."""
    x = stretch(p) + ST_MAX + 1  # 1 .. 4095
    lo = x >> 7  # 0 .. 31
    w = x & 127
    q = (np.int64(table[ctx, lo]) * (128 - w) + np.int64(table[ctx, lo + 1]) * w) >> 7
    if q < 1:
        q = 1
    elif q > PROB_ONE - 1:
        q = PROB_ONE - 1
    return q, lo, w


@njit(cache=True, nogil=True, inline="always")
def apm_update(table, ctx, lo, w, bit, rate):
    target = PROB_ONE - 1 if bit else 1
    a = np.int64(table[ctx, lo])
    b = np.int64(table[ctx, lo + 1])
    table[ctx, lo] = a + (((target - a) >> rate) * (128 - w) >> 7)
    table[ctx, lo + 1] = b + (((target - b) >> rate) * w >> 7)


def apm(contexts: int) -> np.ndarray:
    """An APM whose every context starts as the identity map."""
    xs = (np.arange(33, dtype=np.int64) * 128 - ST_MAX - 1).clip(-ST_MAX, ST_MAX)
    row = SQUASH[xs + ST_MAX].astype(np.int32)
    return np.tile(row, (contexts, 1))  # int32 like the row: no second copy


# --- binary arithmetic coder ----------------------------------------------------------------

@njit(cache=True, nogil=True, inline="always")
def _split(x1, x2, p):
    """Where the range [x1, x2] splits for a 1 of probability p / 2^16."""
    r = x2 - x1
    return x1 + (r >> 16) * p + (((r & 0xFFFF) * p) >> 16)


@njit(cache=True, nogil=True)
def encode_bit(state, out, bit, p):
    """Code `bit` with P(1) = p / 2^16. state = [x1, x2, bytes written]; out: a buffer."""
    x1 = state[0]
    x2 = state[1]
    xmid = _split(x1, x2, p)
    if bit:
        x2 = xmid
    else:
        x1 = xmid + 1
    n = state[2]
    while ((x1 ^ x2) & 0xFF000000) == 0:
        out[n] = x2 >> 24
        n += 1
        x1 = (x1 << 8) & 0xFFFFFFFF
        x2 = ((x2 << 8) & 0xFFFFFFFF) | 255
    state[0] = x1
    state[1] = x2
    state[2] = n


@njit(cache=True, nogil=True)
def encode_flush(state, out):
    """The final byte: the largest top byte b with b.FF FF FF inside the last range (the
    decoder reads 255 past the end), and no trailing 255 bytes (format 11 on; a decoder of
    any version reads the same value from the 4-byte flush older encoders wrote)."""
    n = state[2]
    top = state[1] >> 24
    if (state[1] & 0xFFFFFF) != 0xFFFFFF:
        top -= 1  # still >= x1's top byte: the two differ after every normalization
    out[n] = top
    n += 1
    while n > 0 and out[n - 1] == 255:
        n -= 1
    state[2] = n


@njit(cache=True, nogil=True)
def decode_bit(state, data, p):
    """The next bit given P(1) = p / 2^16. state = [x1, x2, x, read position]."""
    x1 = state[0]
    x2 = state[1]
    x = state[2]
    xmid = _split(x1, x2, p)
    if x <= xmid:
        bit = 1
        x2 = xmid
    else:
        bit = 0
        x1 = xmid + 1
    pos = state[3]
    while ((x1 ^ x2) & 0xFF000000) == 0:
        x1 = (x1 << 8) & 0xFFFFFFFF
        x2 = ((x2 << 8) & 0xFFFFFFFF) | 255
        c = data[pos] if pos < data.shape[0] else 255
        x = ((x << 8) & 0xFFFFFFFF) | c
        pos += 1
    state[0] = x1
    state[1] = x2
    state[2] = x
    state[3] = pos
    return bit


@njit(cache=True, nogil=True)
def encoder_state():
    """A fresh encoder: [x1, x2, bytes written]."""
    state = np.zeros(3, dtype=np.int64)
    state[1] = 0xFFFFFFFF
    return state


@njit(cache=True, nogil=True)
def decoder_state(data):
    """A decoder of `data` (uint8): [x1, x2, x, read position]."""
    state = np.zeros(4, dtype=np.int64)
    state[1] = 0xFFFFFFFF
    x = 0
    for i in range(4):
        x = (x << 8) | (np.int64(data[i]) if i < data.shape[0] else 255)
    state[2] = x
    state[3] = 4
    return state


class BitStream:
    """One block's binary arithmetic coder, for a codec's compiled loop: `state` (the
    coder's registers), `out` (the encoder's buffer, grown by `reserve`) and `data` (the
    decoder's payload); pass all three, whichever way it runs."""

    def __init__(self, payload: bytes | None = None, size: int = 1 << 12) -> None:
        if payload is None:
            self.state, self.out = encoder_state(), np.zeros(size, dtype=np.uint8)
            self.data = np.zeros(1, dtype=np.uint8)
        else:
            self.data = np.frombuffer(payload, dtype=np.uint8)
            self.state, self.out = decoder_state(self.data), np.zeros(1, dtype=np.uint8)

    def reserve(self, count: int) -> None:
        """Room for `count` more encoded bytes (the encoder's kernel never grows it)."""
        written = int(self.state[2])
        if len(self.out) - written < count:
            grown = np.zeros(2 * len(self.out) + count, dtype=np.uint8)
            grown[:written] = self.out[:written]
            self.out = grown

    def finish(self) -> bytes:
        """The encoded block."""
        encode_flush(self.state, self.out)
        return self.out[:self.state[2]].tobytes()
