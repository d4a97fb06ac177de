"""Exact arithmetic: what makes an archive decode on any machine (no modality here).

The rule (README, "Determinism"): every value that can influence a probability handed to
the coder is computed so that no library, CPU instruction set, thread count, batch layout
or library version can change it:

- sums of many terms (matrix products, reductions) only over integer-valued floats whose
  every partial sum is exactly representable (< 2^24 in float32, < 2^53 in float64), or
  over integers, so any summation order, with or without FMA, gives the same result;
- everything else only through operations whose result IEEE 754 defines exactly
  (+, -, *, / and sqrt of two floats, floor/rint), one at a time in a fixed order;
- every nonlinear function (exp, log, sigmoid, tanh, erf, cos/sin) only through integer
  tables built here with Python integers (or the `decimal` module, correctly rounded by
  its specification), never by torch, numpy, libm or the coder's parametric models.

This module holds the primitives the codecs' networks and adaptive stages are built from:
the function tables, per-row weight quantisation, bounded integer matrix products, and
requantisation. Encoder and decoder may batch these as they like: the results are the
same bits.
"""

from __future__ import annotations

import functools
import hashlib
import lzma
import math
import os
import threading
from fractions import Fraction
from importlib import resources

import numpy as np

from . import kernels, parallel

F32_EXACT = 1 << 24  # |integer sums| below this are exact in float32
F64_EXACT = 1 << 53
# torch's int8 product, checked (`IntLinear._acc_int8`); off for good after one failure
INT8_PRODUCTS = {"on": True}
INT8_MIN_SIZE = 1 << 14  # smaller products stay on the float path (the check's overhead)
_PREC = 96  # fractional bits of the fixed-point intermediates used to build tables
_GUARD = 32
_ONE = 1 << _PREC


# ---------------------------------------------------------------------------------------
# Fixed-point elementary functions (Python integers only): values are ints scaled by 2^_PREC
# ---------------------------------------------------------------------------------------

def _fx(x: Fraction | int) -> int:
    """A rational as a fixed-point integer (rounded to nearest)."""
    x = Fraction(x)
    return (x.numerator * _ONE * 2 + x.denominator) // (2 * x.denominator)


def _exp_neg(x: Fraction) -> int:
    """exp(-x) for rational x >= 0, fixed point: Taylor series after halving x, then squaring."""
    if x < 0:
        raise ValueError("x must be >= 0")
    halvings = 0
    while x > Fraction(1, 8):
        x /= 2
        halvings += 1
    prec = _PREC + _GUARD + 2 * halvings
    one = 1 << prec
    y = (x.numerator << prec) // x.denominator
    term, total, k = one, one, 1
    while term:  # terms alternate in sign: add (-y)^k / k! by magnitude
        term = (term * y >> prec) // k
        total += -term if k % 2 else term
        k += 1
    for _ in range(halvings):
        total = total * total >> prec
    return total >> (prec - _PREC)


def _ln(x: Fraction) -> int:
    """ln(x) for rational x > 0, fixed point: x = m 2^e with m in [1, 2), atanh series."""
    if x <= 0:
        raise ValueError("x must be > 0")
    e = 0
    while x >= 2:
        x /= 2
        e += 1
    while x < 1:
        x *= 2
        e -= 1
    return e * _ln2() + _atanh2((x - 1) / (x + 1))


def _atanh2(z: Fraction) -> int:
    """2 atanh(z) for rational |z| <= 1/3, fixed point."""
    prec = _PREC + _GUARD
    zf = (z.numerator << prec) // z.denominator
    z2 = zf * zf >> prec
    power, total, k = zf, 0, 1
    while power:
        total += power // k
        power = power * z2 >> prec
        k += 2
    return (2 * total) >> _GUARD


@functools.cache
def _ln2() -> int:
    return _atanh2(Fraction(1, 3))


@functools.cache
def _pi() -> int:
    """pi, fixed point (Machin: 16 atan(1/5) - 4 atan(1/239))."""
    prec = _PREC + _GUARD

    def atan_inv(n: int) -> int:
        power, total, k, sign = (1 << prec) // n, 0, 1, 1
        while power:
            total += sign * (power // k)
            power //= n * n
            k += 2
            sign = -sign
        return total

    return (16 * atan_inv(5) - 4 * atan_inv(239)) >> _GUARD


def _cos_sin(theta: int) -> tuple[int, int]:
    """cos and sin of a fixed-point angle in [0, 2 pi) (Taylor series after halving)."""
    prec = _PREC + _GUARD
    x = theta << _GUARD
    halvings = 0
    while x > (1 << prec) // 8:
        x >>= 1
        halvings += 1
    one = 1 << prec
    x2 = x * x >> prec
    c, s, term_c, term_s, k = one, x, one, x, 1
    while term_c or term_s:  # terms by magnitude, alternating in sign
        term_c = (term_c * x2 >> prec) // ((2 * k - 1) * (2 * k))
        term_s = (term_s * x2 >> prec) // ((2 * k) * (2 * k + 1))
        c += -term_c if k % 2 else term_c
        s += -term_s if k % 2 else term_s
        k += 1
    for _ in range(halvings):  # double angle
        c, s = (c * c - s * s) >> prec, (2 * c * s) >> prec
    return c >> _GUARD, s >> _GUARD


def _erf_scaled(u: Fraction) -> int:
    """erf(u / sqrt 2) for rational u, fixed point (for the normal CDF)."""
    if u < 0:
        return -_erf_scaled(-u)
    if u > 9:
        return _ONE
    prec = _PREC + 96  # the alternating series cancels up to ~e^(u^2/2)
    one = 1 << prec
    half_u2 = u * u / 2
    h = (half_u2.numerator << prec) // half_u2.denominator
    term, total, n = one, one, 0
    while term:  # sum of (-u^2/2)^n / (n! (2n + 1)), by magnitude
        n += 1
        term = (term * h >> prec) // n
        total += -(term // (2 * n + 1)) if n % 2 else term // (2 * n + 1)
    # erf(u/sqrt2) = sqrt(2/pi) * u * sum
    two_over_pi = (2 << (2 * _PREC)) // _pi()  # fixed point (_PREC bits)
    root = math.isqrt(two_over_pi << _PREC)  # sqrt(2/pi), fixed point
    uf = (u.numerator << prec) // u.denominator
    return min(_ONE, (root * (uf * total >> prec) >> prec))


def _round_to(v: int, bits: int) -> int:
    """A fixed-point value rounded to an integer multiple of 2^-bits (returned scaled)."""
    shift = _PREC - bits
    return (v + (1 << (shift - 1))) >> shift if shift > 0 else v << -shift


# ---------------------------------------------------------------------------------------
# Tables: int64 arrays, identical on every machine
# ---------------------------------------------------------------------------------------

def _as_table(values: list[int]) -> np.ndarray:
    return _frozen(np.array(values, dtype=np.int64))


def _frozen(table: np.ndarray) -> np.ndarray:
    table.flags.writeable = False
    return table


@functools.cache
def exp_table(step: Fraction, n: int, bits: int) -> np.ndarray:
    """round(2^bits exp(-k step)) for k = 0 .. n-1."""
    factor, value, out = _exp_neg(Fraction(step)), _ONE, []
    for _ in range(n):
        out.append(_round_to(value, bits))
        if not out[-1]:  # value only falls from here: every later entry rounds to 0 too
            out += [0] * (n - len(out))
            break
        value = value * factor >> _PREC
    return _as_table(out)


@functools.cache
def exp_range_table(step: Fraction, lo: int, hi: int, bits: int) -> np.ndarray:
    """round(2^bits exp(k step)) for k = lo .. hi (either sign)."""
    down = _exp_neg(Fraction(step))  # exp(-step)
    up = (_ONE * _ONE) // down  # exp(step)
    values, value = {0: _ONE}, _ONE
    for k in range(1, max(hi, 0) + 1):
        value = value * up >> _PREC
        values[k] = value
    value = _ONE
    for k in range(-1, min(lo, 0) - 1, -1):
        value = value * down >> _PREC
        values[k] = value
    return _as_table([_round_to(values[k], bits) for k in range(lo, hi + 1)])


@functools.cache
def sigmoid_table(step: Fraction, n: int, bits: int) -> np.ndarray:
    """round(2^bits sigmoid(k step)) for k = -n .. n (index k + n)."""
    factor, e, upper = _exp_neg(Fraction(step)), _ONE, []
    for _ in range(n + 1):  # e = exp(-k step); sigmoid(k step) = 1 / (1 + e)
        num, den = _ONE << bits, _ONE + e
        upper.append((2 * num + den) // (2 * den))
        if not e:  # e stays 0: so do the later entries
            upper += [upper[-1]] * (n + 1 - len(upper))
            break
        e = e * factor >> _PREC
    lower = [(1 << bits) - v for v in reversed(upper[1:])]
    return _as_table(lower + upper)


@functools.cache
def tanh_table(step: Fraction, n: int, bits: int) -> np.ndarray:
    """round(2^bits tanh(k step)) for k = -n .. n (index k + n)."""
    sig = sigmoid_table(Fraction(step) * 2, n, bits + 1)
    return _as_table([int(v) - (1 << bits) for v in sig])


@functools.cache
def elu_table(step: Fraction, n: int, bits: int) -> np.ndarray:
    """round(2^bits elu(k step)) for k = -n .. n (elu(u) = u for u > 0, e^u - 1 below)."""
    neg = exp_table(Fraction(step), n + 1, bits)
    step = Fraction(step)
    num, den = step.numerator * 2 * (1 << bits), 2 * step.denominator
    if n * num + den >= 1 << 62:  # beyond int64 (far beyond any model's table)
        raise ValueError(f"elu table too large ({n} entries of {bits} bits)")
    k = np.arange(n + 1, dtype=np.int64)
    # round(2^bits k step) = (2 k step 2^bits + 1) // 2 in integers; below 0, e^u - 1
    return _frozen(np.concatenate([neg[n:0:-1] - (1 << bits), (k * num + den // 2) // den]))


@functools.cache
def gelu_table(step: Fraction, n: int, bits: int) -> np.ndarray:
    """round(2^bits gelu(k step)) for k = -n .. n, gelu(u) = u Phi(u) with the exact erf."""
    step = Fraction(step)
    out = []
    for k in range(-n, n + 1):
        u = k * step
        phi = (_ONE + _erf_scaled(u)) // 2
        out.append(_round_to(_fx(u) * phi >> _PREC, bits))
    return _as_table(out)


@functools.cache
def ln_table(n: int, bits: int) -> np.ndarray:
    """round(2^bits ln k) for k = 0 .. n (entry 0 is 0): ln of primes, sums for the rest."""
    logs = [0] * (n + 1)
    smallest = list(range(n + 1))  # smallest prime factor sieve
    for p in range(2, math.isqrt(n) + 1):
        if smallest[p] == p:
            for m in range(p * p, n + 1, p):
                if smallest[m] == m:
                    smallest[m] = p
    for k in range(2, n + 1):
        p = smallest[k]
        logs[k] = _ln(Fraction(k)) if p == k else logs[p] + logs[k // p]
    return _as_table([_round_to(v, bits) for v in logs])


class _RotaryRows:
    """The recurrence behind `rotary_table` for one (head_dim, bits, base), kept so that a
    longer table continues where the last one stopped (the same integers as one run)."""

    def __init__(self, head_dim: int, bits: int, base: int) -> None:
        ln_base, two_pi = _ln(Fraction(base)), 2 * _pi()
        self.bits = bits
        self.turns = []  # (cos, sin) of theta_i, fixed point
        for i in range(head_dim // 2):
            theta = _exp_neg(Fraction(2 * i * ln_base, head_dim * _ONE))  # fixed point
            self.turns.append(_cos_sin(theta % two_pi))
        self.at = [(_ONE, 0)] * len(self.turns)  # (cos, sin) of the next position
        self.cos = np.zeros((0, len(self.turns)), np.int64)
        self.sin = self.cos.copy()

    def grow(self, positions: int) -> None:
        have = len(self.cos)
        if positions <= have:
            return
        cos = np.zeros((positions - have, len(self.turns)), np.int64)
        sin = np.zeros_like(cos)
        for i, (c1, s1) in enumerate(self.turns):
            c, s = self.at[i]
            for p in range(positions - have):
                cos[p, i], sin[p, i] = _round_to(c, self.bits), _round_to(s, self.bits)
                c, s = (c * c1 - s * s1) >> _PREC, (s * c1 + c * s1) >> _PREC
            self.at[i] = (c, s)
        self.cos = np.concatenate([self.cos, cos])
        self.sin = np.concatenate([self.sin, sin])


_ROTARY: dict[tuple[int, int, int], _RotaryRows] = {}
_ROTARY_LOCK = threading.Lock()


def rotary_table(positions: int, head_dim: int, bits: int, base: int = 10000
                 ) -> tuple[np.ndarray, np.ndarray]:
    """round(2^bits cos/sin(p theta_i)), theta_i = base^(-2i / head_dim): (positions, hd/2).
    The rows computed so far are kept: a longer table later only computes the new ones."""
    with _ROTARY_LOCK:
        rows = _ROTARY.get((head_dim, bits, base))
        if rows is None:
            rows = _ROTARY[(head_dim, bits, base)] = _RotaryRows(head_dim, bits, base)
        rows.grow(positions)
        cos, sin = rows.cos[:positions].copy(), rows.sin[:positions].copy()
    cos.flags.writeable = sin.flags.writeable = False
    return cos, sin


@functools.cache
def periodic_cos_sin(period: int, n: int, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """round(2^bits cos/sin(2 pi k / period)) for k = 0 .. n-1."""
    c1, s1 = _cos_sin(2 * _pi() // period)
    c, s, cos, sin = _ONE, 0, [], []
    for _ in range(n):
        cos.append(_round_to(c, bits))
        sin.append(_round_to(s, bits))
        c, s = (c * c1 - s * s1) >> _PREC, (s * c1 + c * s1) >> _PREC
    return _as_table(cos), _as_table(sin)


LOG_STEPS = 4096  # resolution of `log_table` and `exp2_table`


@functools.cache
def log_table() -> np.ndarray:
    """ln(1 + k / 4096) for k = 0 .. 4096, float64 values of integers at 2^-48: with
    frexp, the natural log of any positive float (`kernels.ln`)."""
    return _as_table([_round_to(_ln(1 + Fraction(k, LOG_STEPS)), 48)
                      for k in range(LOG_STEPS + 1)]) / float(1 << 48)


@functools.cache
def exp2_table() -> np.ndarray:
    """2^(k / 4096) for k = 0 .. 4096, float64 values of integers at 2^-48: with ldexp,
    the exponential of any float (`kernels.exp`)."""
    step = Fraction(_ln2(), LOG_STEPS * _ONE)
    return exp_range_table(step, 0, LOG_STEPS, 48) / float(1 << 48)


# ---------------------------------------------------------------------------------------
# A Laplace distribution quantized to the integers, as integer frequencies
# ---------------------------------------------------------------------------------------
# A sample x with mean mu and scale b is coded as x - floor(mu) in bins of width 2^shift(j),
# with b rounded to one of LAPLACE_SCALES values b_j = 0.05 2^(j/8) and the mean's fraction
# to one of LAPLACE_FRACTIONS steps; bins within ±LAPLACE_WINDOW of the mean get the
# Laplace's mass, two escape bins the tails (the value is then coded uniformly).
LAPLACE_SCALE_MIN = Fraction(1, 20)
LAPLACE_PER_OCTAVE = 8
LAPLACE_SCALES = 8 * 21  # b_j up to 0.05 * 2^21 > e^11
LAPLACE_FRACTIONS = 16
LAPLACE_WINDOW = 160
LAPLACE_BINS = 2 * LAPLACE_WINDOW + 3  # escape below, bins -W .. W, escape above
LAPLACE_BITS = 24


def laplace_shift(j: int) -> int:
    """Bin width 2^shift of scale index j: max(0, floor(log2 b_j) - 2), in integers."""
    k = -64
    while (k + 1 <= 0 and 20 ** 8 <= 2 ** (j - 8 * (k + 1))) or (
            k + 1 > 0 and 20 ** 8 * 2 ** (8 * (k + 1)) <= 2 ** j):
        k += 1
    return max(0, k - 2)


@functools.cache
def _laplace_step(j: int) -> tuple[int, int]:
    """(1 / b_j, exp(-w / b_j)) in fixed point, w = 2^shift(j)."""
    inv_b = 20 * _exp_neg(Fraction(j * _ln2(), LAPLACE_PER_OCTAVE * _ONE))
    width = 1 << laplace_shift(j)
    return inv_b, _exp_neg(Fraction(width * inv_b, _ONE))


@functools.cache
def laplace_row(j: int, fraction: int) -> np.ndarray:
    """Integer frequencies (LAPLACE_BINS,) of the coarse symbols of scale index j and mean
    fraction `fraction` (mean = floor(mean) + (fraction + 1/2) / 16): each frequency is
    floor(mass 2^24) + 1, so every symbol stays codable."""
    inv_b, factor = _laplace_step(j)
    width = 1 << laplace_shift(j)
    c = Fraction(2 * fraction + 1, 2 * LAPLACE_FRACTIONS) + Fraction(1, 2)
    qs = range(-LAPLACE_WINDOW, LAPLACE_WINDOW + 2)  # edge q lies at q w - 1/2 - frac

    def tail(a: Fraction) -> int:  # exp(-a / b), a >= 0
        return _exp_neg(a * Fraction(inv_b, _ONE))

    first_positive = min(max(math.ceil(c / width), qs.start), qs.stop)  # first q w - c >= 0
    g: dict[int, int] = {}
    value = tail(c)  # q = 0: z = -c
    for q in range(0, -LAPLACE_WINDOW - 1, -1):
        g[q] = value
        value = value * factor >> _PREC
    value = tail(c - width) if 1 < first_positive else 0  # q = 1 on the negative side
    for q in range(1, first_positive):
        g[q] = value
        value = (value << _PREC) // factor  # moving towards the mean: exp grows
    if first_positive < qs.stop:
        value = tail(first_positive * width - c)
        for q in range(first_positive, qs.stop):
            g[q] = value
            value = value * factor >> _PREC
    cdf = [g[q] // 2 if q < first_positive else _ONE - g[q] // 2 for q in qs]
    masses = [cdf[0]] + [b - a for a, b in zip(cdf, cdf[1:], strict=False)] + [_ONE - cdf[-1]]
    return _as_table([(m >> (_PREC - LAPLACE_BITS)) + 1 for m in masses])


# every laplace_row, shipped in arzip/tables, and the sha256 of its uncompressed bytes
# (both written by tools/make_tables.py)
LAPLACE_ROWS_FILE = "laplace_rows.u32le.xz"
LAPLACE_ROWS_SHA256 = "8824b980037d9d6a3bc3a8b06a6c0795cc6b1571f33d305c7e86681d27017519"


def shipped_laplace_rows() -> np.ndarray | None:
    """Every `laplace_row` (LAPLACE_SCALES * LAPLACE_FRACTIONS rows, scale index major)
    as float64 from the table shipped with arzip, or None if it is missing or does not
    match its sha256 (the rows are then built as needed). The tests compare it with
    `laplace_row` entry by entry."""
    try:
        raw = lzma.decompress((resources.files("arzip") / "tables" / LAPLACE_ROWS_FILE
                               ).read_bytes())
    except (OSError, lzma.LZMAError):
        return None
    if hashlib.sha256(raw).hexdigest() != LAPLACE_ROWS_SHA256:
        return None
    rows = np.frombuffer(raw, dtype="<u4").astype(np.float64)
    return rows.reshape(LAPLACE_SCALES * LAPLACE_FRACTIONS, LAPLACE_BINS)


def fixed(x: Fraction | int | str, bits: int) -> int:
    """A constant (e.g. "0.5", or a Fraction) as round(x 2^bits)."""
    return _round_to(_fx(Fraction(x)), bits)


def ln_fixed(x: Fraction | int, bits: int) -> int:
    """round(2^bits ln x) of a rational constant."""
    return _round_to(_ln(Fraction(x)), bits)


def exp_fixed(x: Fraction | int, bits: int) -> int:
    """round(2^bits exp(x)) of a rational constant x <= 0."""
    return _round_to(_exp_neg(-Fraction(x)), bits)


# ---------------------------------------------------------------------------------------
# Lookups, quantisation and integer matrix products (numpy)
# ---------------------------------------------------------------------------------------

def lookup(table: np.ndarray, index: np.ndarray, centre: int = 0) -> np.ndarray:
    """table[clip(index + centre)] for integer-valued `index` (any float or int dtype)."""
    idx = np.asarray(index)
    if idx.dtype.kind == "f":
        idx = idx.astype(np.int64)
    return table[np.clip(idx + centre, 0, len(table) - 1)]


def quantize_rows(weight: np.ndarray, bits: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric per-row quantisation of a float matrix (out, in): integer values (float64)
    and the per-row scale (float64), with weight ≈ values * scale[:, None].

    Deterministic: float32 -> float64 is exact, max is exact, one division and rint each.
    """
    w = np.asarray(weight, dtype=np.float64)
    top = float((1 << (bits - 1)) - 1)
    peak = np.abs(w).max(axis=1) if w.size else np.zeros(len(w))
    scale = np.where(peak > 0, peak / top, 1.0)
    return np.rint(w / scale[:, None]), scale


class IntLinear:
    """x @ W.T for integer-valued x (|x| <= x_max) and per-row quantised W, exactly.

    The product runs in float32 over column blocks short enough that K_block * x_max *
    w_max < 2^24 (every partial sum is then an exactly representable integer, whatever the
    kernel's order or FMA use); the blocks' sums are added in float64, exact below 2^53.
    A matrix whose single columns exceed float32's range runs in float64. `acc` returns
    the integer accumulators; `scale` (out,) turns them into the layer's real-valued
    output: acc * x_scale * scale.
    """

    def __init__(self, weight: np.ndarray, x_max: int, bits: int = 8) -> None:
        q, self.scale = quantize_rows(weight, bits)
        self.out_features, self.in_features = q.shape
        self.x_max = int(x_max)
        per_term = self.x_max * ((1 << (bits - 1)) - 1)
        self.bound = self.in_features * per_term
        if self.bound >= F64_EXACT:
            raise ValueError(f"integer product bound {self.bound} exceeds float64's 2^53")
        block = (F32_EXACT - 1) // max(per_term, 1)
        if block >= 8 or block >= self.in_features:
            self.dtype, self.block = np.float32, min(block, self.in_features)
        else:
            self.dtype, self.block = np.float64, self.in_features
        self.weight_t = np.ascontiguousarray(q.T, dtype=self.dtype)  # (in, out)
        self.blocks = [slice(a, min(a + self.block, self.in_features))
                       for a in range(0, self.in_features, self.block)]
        # int8 x int8 operands may run as torch's int8 product (int32 sums), checked
        # r < 2^check_bits keeps out x bound x r below 2^52 (ceil log2 by integer bits)
        self.check_bits = min(24, 52 - (self.out_features * max(self.bound, 1) - 1).bit_length())
        self.int8 = bits <= 8 and self.x_max <= 127 and self.check_bits >= 16
        self._int8_weights: tuple | None = None  # (int8 tensor, float64 copy), lazily

    def acc(self, x: np.ndarray) -> np.ndarray:
        """Integer accumulators (..., out) for integer-valued x (..., in) within ±x_max."""
        if self.int8 and INT8_PRODUCTS["on"] and np.size(x) >= INT8_MIN_SIZE:
            out = self._acc_int8(np.asarray(x))
            if out is not None:
                return out
        x = np.asarray(x, dtype=self.dtype)
        if len(self.blocks) == 1:
            return np.matmul(x, self.weight_t)
        out = np.matmul(x[..., self.blocks[0]], self.weight_t[self.blocks[0]]).astype(np.float64)
        for cols in self.blocks[1:]:
            out += np.matmul(x[..., cols], self.weight_t[cols])
        return out

    def acc_part(self, x: np.ndarray, start: int, stop: int) -> np.ndarray:
        """The accumulators (..., out) of input columns start .. stop - 1 alone, for x
        (..., stop - start) holding just those columns (float path, in the same exact
        blocks): a split input's parts add up to exactly `acc` of the whole, every partial
        sum being an integer within the same bounds."""
        x = np.asarray(x, dtype=self.dtype)
        out = None
        for a in range(start, stop, self.block):
            b = min(a + self.block, stop)
            part = np.matmul(x[..., a - start:b - start], self.weight_t[a:b])
            out = part.astype(np.float64) if out is None else out + part
        return out

    def _acc_int8(self, x: np.ndarray) -> np.ndarray | None:
        """`acc` by torch's int8 x int8 -> int32 product (the CPU's integer dot-product
        instructions: 3-4x the float32 product where they exist), trusted only after
        Freivalds' check: for two random vectors r, (x W^T) r must equal x (W^T r),
        computed exactly in float64 (`kernels.checked_copy`). Some of its kernels are
        not exact (CPUs without VNNI sum pairs of products in saturating 16 bits): a row
        that is wrong anywhere passes with probability below 2^-32. On a failed check,
        or where this torch lacks the kernel, None, and the float path serves the rest of
        the process (INT8_PRODUCTS)."""
        try:
            import torch  # here: the float path and the decoders need no torch

            parallel.hold_torch()

            if self._int8_weights is None:  # one assignment: threads may race here
                self._int8_weights = (torch.from_numpy(self.weight_t.astype(np.int8)),
                                      self.weight_t.astype(np.float64))
            weight_i8, weight_f64 = self._int8_weights
            rows = np.ascontiguousarray(x.reshape(-1, self.in_features).astype(np.int8))
            sums = torch._int_mm(torch.from_numpy(rows), weight_i8).numpy()
        except (ImportError, AttributeError, RuntimeError, TypeError):
            INT8_PRODUCTS["on"] = False
            return None
        r = np.frombuffer(os.urandom(8 * self.out_features), dtype=np.uint32)
        r = (r >> (32 - self.check_bits)).astype(np.float64).reshape(2, self.out_features)
        wr = r @ weight_f64.T  # (2, in): exact integers below 2^53
        dtype = self.dtype if len(self.blocks) == 1 else np.float64
        out = np.empty(sums.shape, dtype=dtype)
        if not kernels.checked_copy(sums, rows, r, wr, out):
            INT8_PRODUCTS["on"] = False
            return None
        return out.reshape(*x.shape[:-1], self.out_features)


def headroom_bits(peak: float, limit: int, margin: float = 1.5) -> int:
    """The largest b with margin * peak * 2^b <= limit: the resolution 2^-b of an integer
    stream (|value| < limit) that leaves `margin` headroom over a calibrated peak; computed
    with exact scalings by powers of two."""
    peak = max(float(peak), 1e-30) * margin
    b = 0
    while peak * 2.0 ** b > limit:
        b -= 1
    while peak * 2.0 ** (b + 1) <= limit:
        b += 1
    return b


def requant(values: np.ndarray, factor: np.ndarray | float, limit: int,
            offset: np.ndarray | float | None = None) -> np.ndarray:
    """clip(rint(values * factor [+ offset]), -limit, limit) as float64 integers."""
    out = values * factor
    if offset is not None:
        out += offset
    np.rint(out, out=out)
    return np.clip(out, -limit, limit, out=out)


def check_integer_sum_bound(terms: int, max_a: float, max_b: float,
                            dtype: type = np.float32) -> None:
    """Raise if a product-sum of `terms` integer products could leave the exact range."""
    limit = F32_EXACT if dtype == np.float32 else F64_EXACT
    if terms * max_a * max_b >= limit:
        raise ValueError(f"{terms} x {max_a} x {max_b} is not exact in {np.dtype(dtype).name}")
