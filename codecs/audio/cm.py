"""Audio context mixing: the quantized Laplace refined by what the file itself shows.

Format 10's audio coder. A sample's coarse bin (`exact.laplace_row`: bins 2^shift wide
around the mean, an escape at each end) is coded as binary decisions of a tree centred on
the mean: the side (above or below the mean's bin), then how far out in an Elias-gamma
code (is the distance in 0, 1-2, 3-6, 7-14 ...? one decision per octave), then the
distance's lower bits, most significant first. Every decision's first input is the
Laplace's own exact probability (a ratio of sums of its integer frequencies), so the
coder starts as the range coder of formats 3-9 and learns from there. The mixer
(`arzip.mixing`) adds

- an APM of the Laplace's probability per (decision, scale index): the shape of the
  real residuals at each scale (measured on training clips: real residuals are not
  Laplace; near-white noise is closer to Gaussian);
- adaptive probabilities per decision and small context: the scale index; this
  channel's last two coarse residuals; the other channel's latest; how large the last
  two residuals were, by scale;

with two weight sets, chosen by the decision and by (scale, stage), averaged in the
logistic domain, then an APM by the last residual. The offset within a bin and escaped
values are coded as raw bits (probability 1/2), as the range coder codes them
uniformly. The statistics are shared by all lanes of a block (the lanes run in lock-step,
in the decoder's order: per step, channel 0 of the running lanes, then channel 1), and
start afresh in every block. Integers and the shared tables only.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from arzip import coding, exact, jitcache
from arzip import mixing as M
from arzip.errors import FormatError

jitcache.depends(__file__, M)

VARIANT = 1  # the coder settings' "cm" value
W1 = exact.LAPLACE_WINDOW + 1  # the coarse bin whose range starts at floor(mean)
BINS = exact.LAPLACE_BINS
FRACTIONS = exact.LAPLACE_FRACTIONS
SCALES = exact.LAPLACE_SCALES
NODES = 1 + 16 + 128  # the side; an octave on either side; a lower bit (side, octave, bit)
MODELS = 4
TABLE = 8 * SCALES * NODES  # slots of each model's table (the largest context: 8 x SCALES)
INPUTS = 2 + MODELS + 1  # the Laplace, its APM, the models, the bias
SCALE_ROWS = (SCALES // 2) * 4  # the second weight set: (scale / 2, stage)
RATE = 6  # the mixers' learning rate
LIMIT = 255  # counters' adaptation limit
APM_RATE = 7
OUT_OF_RANGE = "corrupted payload: a decoded sample is out of range"
MAX_BYTES_PER_SAMPLE = 36  # at most 16 decisions x 16 bits + 16 raw bits


@njit(cache=True, nogil=True, inline="always")
def _clamp(x, lo, hi):
    return lo if x < lo else (hi if x > hi else x)


@njit(cache=True, nogil=True, inline="always")
def _part(cum, key, a0, a1, b0, b1):
    """P(coarse in [a0, a1)) given coarse in [a0, a1) or [b0, b1), in 16 bits."""
    fa = cum[key, a1] - cum[key, a0]
    total = fa + cum[key, b1] - cum[key, b0]
    p = (fa * M.PROB_ONE + total // 2) // total
    return 1 if p < 1 else (M.PROB_ONE - 1 if p > M.PROB_ONE - 1 else p)


@njit(cache=True, nogil=True)
def _code(decode, symbols, base, index, fraction, lanes, channels, cum, shifts, coder, out,
          payload, cost, table, counts, weights, apm1, apm2, history):
    """Code (encode: symbols -> out; decode: payload -> symbols) samples i = 0.. in order,
    each of lane lanes[i] and channel channels[i] under the Laplace (base, index,
    fraction). cost[i] gets the ideal bits of sample i (encoder only). Returns False
    where a decoded value falls outside 16 bits (a corrupted payload)."""
    inputs = np.zeros(INPUTS, np.int32)
    ctx = np.zeros(MODELS, np.int64)
    slot = np.zeros(MODELS, np.int64)
    for i in range(base.shape[0]):
        j = index[i]
        key = j * FRACTIONS + fraction[i]
        s = shifts[j]
        lane = lanes[i]
        ch = channels[i]
        q1 = history[lane, ch, 0]
        q2 = history[lane, ch, 1]
        other = history[lane, 1 - ch, 0]
        energy = abs(q1) + abs(q2)
        eb = 0
        while eb < 7 and energy >= (1 << eb):
            eb += 1
        ctx[0] = j
        ctx[1] = (_clamp(q1, -7, 7) + 7) * 15 + _clamp(q2, -7, 7) + 7
        ctx[2] = ch * 31 + _clamp(other, -15, 15) + 15
        ctx[3] = eb * SCALES + j
        c = 0
        if not decode:
            c = _clamp(((symbols[i] - base[i]) >> s) + W1, 0, BINS - 1)
        bits = 0.0
        # the tree: stage 0 the side, 1 the octave (unary), 2 the lower bits
        stage = 0
        positive = False
        top = 0  # the largest distance on this side, plus one
        octave = 0
        v = 0  # distance + 1 (encoder: known; decoder: built)
        vlo = 0
        vhi = 0
        k = 0  # the distance's octave
        if not decode:
            positive = c >= W1
            v = (c - W1 + 1) if positive else (W1 - c)
            while (v >> (k + 1)) > 0:
                k += 1
        while True:
            if stage == 0:
                node = 0
                a0, a1, b0, b1 = W1, BINS, 0, W1
                bit = 1 if positive else 0
            elif stage == 1:
                lo_v = 1 << octave
                hi_v = 1 << (octave + 1)
                if hi_v >= top:  # nothing farther: the octave is this one
                    k = octave
                    vlo, vhi = lo_v, hi_v
                    stage = 2
                    continue
                node = 1 + (8 if positive else 0) + octave
                bit = 1 if k == octave else 0  # stop here?
                if positive:  # distance v - 1 is coarse W1 + v - 1
                    a0, a1, b0, b1 = W1 - 1 + lo_v, W1 - 1 + hi_v, W1 - 1 + hi_v, W1 - 1 + top
                else:  # coarse W1 - v
                    a0, a1, b0, b1 = W1 + 1 - hi_v, W1 + 1 - lo_v, W1 + 1 - top, W1 + 1 - hi_v
            else:
                if vhi - vlo <= 1:
                    break
                mid = vlo + ((vhi - vlo) >> 1)
                end = vhi if vhi < top else top
                if mid >= end:  # the upper half lies beyond the last bin
                    vhi = mid
                    continue
                node = 17 + ((8 if positive else 0) + k) * 8 + (k - 1 - _bitlen(vhi - vlo) + 2)
                bit = 1 if v >= mid else 0
                if positive:
                    a0, a1, b0, b1 = W1 - 1 + mid, W1 - 1 + end, W1 - 1 + vlo, W1 - 1 + mid
                else:
                    a0, a1, b0, b1 = W1 + 1 - end, W1 + 1 - mid, W1 + 1 - mid, W1 + 1 - vlo
            pl = _part(cum, key, a0, a1, b0, b1)
            inputs[0] = M.stretch(pl)
            r1 = node * SCALES + j
            qa, la, wa = M.apm_p(apm1, r1, pl)
            inputs[1] = M.stretch(qa)
            for m in range(MODELS):
                slot[m] = ctx[m] * NODES + node
                inputs[2 + m] = M.stretch(table[m, slot[m]])
            inputs[INPUTS - 1] = 256
            row2 = NODES + (j >> 1) * 4 + (stage if stage < 2 else (2 if vhi - vlo > 2 else 3))
            pa, da = M.mix(weights, node, inputs, INPUTS)
            pb, db = M.mix(weights, row2, inputs, INPUTS)
            p = M.squash((da + db) >> 1)
            r2 = node * 32 + _clamp(q1, -15, 16) + 15
            qb, lb, wb = M.apm_p(apm2, r2, p)
            pf = (2 * p + qa + qb + 2) >> 2
            pf = 1 if pf < 1 else (M.PROB_ONE - 1 if pf > M.PROB_ONE - 1 else pf)
            if decode:
                bit = M.decode_bit(coder, payload, pf)
            else:
                M.encode_bit(coder, out, bit, pf)
                bits += M.COST[pf if bit else M.PROB_ONE - pf]
            M.mix_update(weights, node, inputs, INPUTS, pa, bit, RATE)
            M.mix_update(weights, row2, inputs, INPUTS, pb, bit, RATE)
            M.apm_update(apm1, r1, la, wa, bit, APM_RATE)
            M.apm_update(apm2, r2, lb, wb, bit, APM_RATE)
            for m in range(MODELS):
                M.counter_update(table[m], counts[m], slot[m], bit, LIMIT)
            if stage == 0:
                positive = bit == 1
                top = (BINS - W1 + 1) if positive else (W1 + 1)
                stage = 1
            elif stage == 1:
                if bit:
                    k = octave
                    vlo, vhi = 1 << octave, 1 << (octave + 1)
                    stage = 2
                else:
                    octave += 1
            else:
                if bit:
                    vlo = mid
                else:
                    vhi = mid
        if decode:
            v = vlo
            c = (W1 - 1 + v) if positive else (W1 - v)
        # the rest: raw bits, as the range coder codes them uniformly
        escaped = c == 0 or c == BINS - 1
        width = 16 if escaped else s
        rest = 0
        if not decode:
            rest = (symbols[i] + 32768) if escaped else (symbols[i] - base[i]) - ((c - W1) << s)
        value = 0
        for b in range(width - 1, -1, -1):
            if decode:
                value = value * 2 + M.decode_bit(coder, payload, 32768)
            else:
                M.encode_bit(coder, out, (rest >> b) & 1, 32768)
        if decode:
            x = (value - 32768) if escaped else base[i] + ((c - W1) << s) + value
            if x < -32768 or x > 32767:
                return False
            symbols[i] = x
        else:
            cost[i] = bits + width
        history[lane, ch, 1] = q1
        history[lane, ch, 0] = c - W1
    return True


@njit(cache=True, nogil=True, inline="always")
def _bitlen(x):
    n = 0
    while x > 0:
        n += 1
        x >>= 1
    return n


class AudioCM:
    """The context-mixing state of one audio block (`lanes` lanes of 2 channels) and its
    binary arithmetic coder: encode a block's samples at once, or decode them batch by
    batch."""

    def __init__(self, lanes: int, payload: bytes | None = None) -> None:
        self.rows = coding.laplace_rows()
        self.cum = _cumulative(self.rows)
        self.table, self.counts = M.counters(MODELS * TABLE, np.uint8)
        self.table, self.counts = (a.reshape(MODELS, TABLE) for a in (self.table, self.counts))
        self.weights = M.mixer(NODES + SCALE_ROWS, INPUTS, 0)
        self.weights[:, 0] = M.PROB_ONE  # starts as the Laplace
        self.apm1, self.apm2 = M.apm(NODES * SCALES), M.apm(NODES * 32)
        self.history = np.zeros((lanes, 2, 2), dtype=np.int64)
        self.channel_ids = np.zeros((2, lanes), dtype=np.int64)
        self.channel_ids[1] = 1
        self.no_cost = np.zeros(0)
        self.stream = M.BitStream(payload)

    def _run(self, decode: bool, symbols: np.ndarray, base: np.ndarray, index: np.ndarray,
             fraction: np.ndarray, lanes: np.ndarray, channels: np.ndarray,
             cost: np.ndarray) -> bool:
        if not self.cum.all_built and not self.cum.covered[index * FRACTIONS + fraction].all():
            self.rows.build(index, fraction)  # only where arzip's table file is missing
            self.cum = _cumulative(self.rows)
        return _code(decode, symbols, base, index, fraction, lanes, channels, self.cum.table,
                     self.rows.shift, self.stream.state, self.stream.out, self.stream.data,
                     cost, self.table,
                     self.counts, self.weights, self.apm1, self.apm2, self.history)

    def encode(self, symbols: np.ndarray, base: np.ndarray, index: np.ndarray,
               fraction: np.ndarray, lanes: np.ndarray, channels: np.ndarray) -> np.ndarray:
        """Encode samples (in the decoder's order); returns each one's ideal bits."""
        n = len(symbols)
        self.stream.reserve(n * MAX_BYTES_PER_SAMPLE + 8)
        cost = np.zeros(n)
        i64 = lambda a: np.ascontiguousarray(a, dtype=np.int64)  # noqa: E731
        self._run(False, i64(symbols), i64(base), i64(index), i64(fraction), i64(lanes),
                  i64(channels), cost)
        return cost

    def finish(self) -> bytes:
        """The block's encoded payload."""
        return self.stream.finish()

    def decode(self, base: np.ndarray, index: np.ndarray, fraction: np.ndarray,
               lanes: np.ndarray, channel: int) -> np.ndarray:
        """Decode one sample of `channel` for each lane in `lanes` (int64 arrays, as the
        decoder's compiled steps make them), under its Laplace."""
        values = np.empty(len(base), dtype=np.int64)
        if not self._run(True, values, base, index, fraction, lanes,
                         self.channel_ids[channel, :len(base)], self.no_cost):
            raise FormatError(OUT_OF_RANGE)
        return values


class _Cumulative:
    def __init__(self, table: np.ndarray, covered: np.ndarray) -> None:
        self.table, self.covered = table, covered  # which rows `table` holds
        self.all_built = bool(covered.all())


_CUMULATIVE: _Cumulative | None = None


def _cumulative(rows) -> _Cumulative:  # noqa: ANN001
    """Cumulative integer frequencies of every built Laplace row (kept while the rows do
    not change: arzip ships them all)."""
    global _CUMULATIVE
    if _CUMULATIVE is None or not _CUMULATIVE.all_built:
        table = np.zeros((len(rows.rows), BINS + 1), dtype=np.int64)
        np.cumsum(rows.rows.astype(np.int64), axis=1, out=table[:, 1:])
        _CUMULATIVE = _Cumulative(table, rows.built.copy())
    return _CUMULATIVE
