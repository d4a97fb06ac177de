"""Image context mixing: the network's distribution mixed with models learned from the image.

Format 9's image coder. Each subpixel is coded as 8 binary decisions, most significant
bit first (a node of the binary tree over 0..255). For every decision the mixer
(`arzip.mixing`) combines

- the network's exact probability of the next bit (a ratio of sums over its integer
  frequencies), and that of the per-image residual mixture (`adaptive`), each also
  refined by an APM;
- hashed context models: adaptive probabilities per (context, channel, node), where the
  context is a neighbour, a pair of neighbours or a classical prediction of this subpixel
  (W, N, W+N-NW, N+NE-NNE, the average of W and NE, the colour-corrected W, N and plane
  predictions from the already coded channels of this pixel), this pixel's coded
  channels themselves, the network's mode with the error at the left pixel, and the
  coarse texture of W, N and NW;
- prediction-relative models: per (predictor, channel, bit position, local activity), a
  probability indexed by where the predictor falls against the current split point of
  the tree (pred - mid); the predictors are W, W+N-NW, the three colour-corrected ones,
  their average, the adaptive linear prediction and the average of W and NE. They learn
  each image's error distribution around each predictor, shared across all intensities,
  so they are useful after a few hundred pixels;
- an adaptive linear predictor per channel: integer NLMS over 14 neighbours of this and
  the previous channels (in the lineage of the OLS/LMS predictors of paq8px's image
  model and of CALIC's and LOCO-I's context modelling; our own code);
- variant 2 (format 13): an online least-squares predictor per channel
  (`arzip.mixing.ols_update`: float64, but a fixed sequence of IEEE-exact operations)
  over 12 neighbours, the pixel's earlier channels with their neighbours, and the
  network's mean; its prediction is a hashed context and two prediction-relative models
  (in quarters of a value; and plus the previous channel's error against its own OLS
  prediction), its recent errors join the relative models' activity and pick a fourth
  mixer weight set;
- variant 3 (format 15): variant 2 with 20 same-channel OLS taps, counters limited to
  127 observations, two APMs keyed by the OLS prediction instead of the NLMS one, and a
  final mixer over the four weight sets' outputs instead of their average.

Three weight sets (variant 2: four) are chosen by (channel, node), (channel, the network's
confidence, bit position), (channel, local gradient, bit position) and (variant 2)
(channel, the OLS's recent errors, bit position); their average is refined by three
APMs. Everything is integer arithmetic (hashes, counters, the integer NLMS) and the
integer tables of `arzip.mixing` (but variant 2's OLS: float64 in one fixed order); the
residual mixture's float64 pmf enters as floor(p * 2^16) + 1, an exact function of its
(exact) values. Pixels are visited in the
wavefront's order (step, then channel, then row; from format 16 step, run of rows,
channel, row), so the encoder, which knows every
pixel, learns exactly what the decoder learns.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from arzip import jitcache
from arzip import mixing as M

jitcache.depends(__file__, M)

VARIANT = 3  # the coder settings' "cm" value a new file gets
VARIANTS = (1, 2, 3)  # 1: format 9; 2: format 13, variant 1 with a least-squares predictor;
# 3: format 15, variant 2 with the changes of `_code`'s v3
HASHED_V1 = 13  # hashed context models of variant 1
HASHED = 14  # variant 2: + the OLS prediction
RELATIVE_V1 = 8  # prediction-relative models of variant 1
RELATIVE = 10  # variant 2: + the OLS prediction, and it corrected by the previous
# channel's (ch 0: the left pixel's) error
FEATURES = 14  # taps of the adaptive linear predictor
OLS_SAME = 12  # the OLS predictor's taps in this channel (`OLS_AT`; variant 3: 20), then
OLS_OTHER = 5  # per earlier channel of the pixel: it, and its W, N, NW, NE; then the
OLS_MAX = OLS_SAME + 2 * OLS_OTHER + 1  # network's mean
OLS_SAME_V3 = 20
OLS_MAX_V3 = OLS_SAME_V3 + 2 * OLS_OTHER + 1
OLS_FRACTION = 4  # the OLS's relative model sees its prediction in quarters
OLS_LAMBDA = 0.998  # its forgetting factor
OLS_DELTA = 0.001  # its ridge
OLS_EVERY = 16  # it solves after every OLS_EVERY-th subpixel of a channel
LOG2_SLOTS = 22  # slots of each hashed context model (at most: see `log2_slots`)
RATE = 6  # the mixers' learning rate
LIMIT = 255  # counters' adaptation limit (variant 3: LIMIT_V3)
LIMIT_V3 = 127
FINAL_RATE = 1  # variant 3's final mixer: its learning rate
LMS_SHIFT = 2  # the linear predictor's step: 2^-LMS_SHIFT
NODE_ROWS = 3 * 256  # mixer weight sets: (channel, node), then
CONF_ROWS = 3 * 8 * 8  # (channel, the residual mixture's confidence, bit position), then
GRAD_ROWS = 3 * 8 * 8  # (channel, gradient bucket, bit position), then (variant 2)
ERR_ROWS = 3 * 8 * 8  # (channel, the OLS's errors at W and row r - 1's last, bit position)
REL_ONE = 3 * 8 * 8 * 1024  # slots of one prediction-relative model
# (dr, dc) of the OLS's taps in the same channel: all coded before (r, c) (wavefront)
OLS_AT = np.array([(0, -1), (-1, 0), (-1, -1), (-1, 1), (0, -2), (-2, 0), (-2, 1), (-2, -1),
                   (-1, -2), (-2, 2), (0, -3), (-3, 0),  # variant 3 adds:
                   (-2, -2), (-1, -3), (-2, 3), (-3, 1), (-3, -1), (0, -4), (-4, 0), (-3, 2)],
                  dtype=np.int64)
OLS_AT.flags.writeable = False


MAX_BYTES_PER_SUBPIXEL = 17  # coded bytes one subpixel can cost at most (8 x 16 bits)


@njit(cache=True, nogil=True, inline="always")
def shape(variant: int) -> tuple[int, int]:
    """(hashed, prediction-relative) models of a variant."""
    return (HASHED_V1, RELATIVE_V1) if variant == 1 else (HASHED, RELATIVE)


_hash = M.hash2  # the shared context hash


@njit(cache=True, nogil=True, inline="always")
def _st(x):
    """A mixer's raw output in the logistic domain's range (the final mixer's input)."""
    return -M.ST_MAX if x < -M.ST_MAX else (M.ST_MAX if x > M.ST_MAX else x)


@njit(cache=True, nogil=True, inline="always")
def _clamp(x):
    return 0 if x < 0 else (255 if x > 255 else x)


@njit(cache=True, nogil=True, inline="always")
def _causal(img, r, c, dr, dc, q, fallback):
    """Subpixel (r + dr, c + dc) of channel q (a tap that the wavefront codes before
    (r, c): dr < 0, or dr = 0 and dc < 0), `fallback` where it lies outside the image."""
    if r + dr < 0 or (dr == 0 and c + dc < 0):
        return fallback
    return _at(img, r + dr, c + dc, q)


@njit(cache=True, nogil=True)
def _ols_taps(img, cur, i, r, c, ch, x, fallback, same):
    """The OLS predictor's features of subpixel (r, c, ch) into x (the first `same` of
    OLS_AT, then the earlier channels'); returns their count."""
    for j in range(same):
        x[j] = np.float64(_causal(img, r, c, OLS_AT[j, 0], OLS_AT[j, 1], ch, fallback))
    k = same
    for q in range(ch):
        p = np.int64(cur[i, q])
        x[k] = np.float64(p)
        x[k + 1] = np.float64(_causal(img, r, c, 0, -1, q, p))
        x[k + 2] = np.float64(_causal(img, r, c, -1, 0, q, p))
        x[k + 3] = np.float64(_causal(img, r, c, -1, -1, q, p))
        x[k + 4] = np.float64(_causal(img, r, c, -1, 1, q, p))
        k += OLS_OTHER
    return k


@njit(cache=True, nogil=True, inline="always")
def _at(img, r, c, q):
    """Subpixel (r, c) of channel q, the column clamped into the image."""
    width = img.shape[1]
    if c < 0:
        c = 0
    elif c >= width:
        c = width - 1
    return np.int64(img[r, c, q])


@njit(cache=True, nogil=True)
def _code(decode, variant, ch, rows, cols, img, cur, netf, mixed, coder, out, payload, cost,
          table, rprob, rcount, weights, apm1, apm2, apm3, apm4, apm5, lms, left,
          cov, rhs, olsw, chol, taps, solved, err, final):
    """Code (encode: cur -> out; decode: payload -> cur) channel `ch` of the pixels at
    (rows, cols), in order. img: the image so far (H, W, 3); cur (n, 3): these pixels,
    their channels below `ch` already known; netf (n, 256) the network's integer
    frequencies, mixed (n, 256) the residual mixture's pmf; cost[i] gets the ideal bits
    of subpixel i (the encoder's reports only). The rest is the model's state (`ImageCM`);
    variant 1 ignores the OLS's (cov .. err)."""
    v2 = variant >= 2
    v3 = variant >= 3
    limit = LIMIT_V3 if v3 else LIMIT
    fin = np.zeros(4, np.int32)  # v3's final mixer: its inputs
    n_hashed, n_rel = shape(variant)
    net_at = n_hashed + n_rel  # the network's input, then the residual mixture's, their
    n_in = net_at + 5  # two APMs, and the bias
    mask = np.uint64(table.shape[1] - 1)
    inputs = np.zeros(n_in, np.int32)
    cum = np.zeros(257, np.int64)
    cumn = np.zeros(257, np.int64)
    quant = np.zeros(256, np.int64)
    ctx = np.zeros(HASHED, np.uint64)
    idx = np.zeros(HASHED, np.int64)
    preds = np.zeros(RELATIVE, np.int64)
    ridx = np.zeros(RELATIVE, np.int64)
    feat = np.zeros(FEATURES, np.int64)
    for i in range(rows.shape[0]):
        r = np.int64(rows[i])
        c = np.int64(cols[i])
        best, top = 0, netf[i, 0]
        for k in range(256):  # separate loops: the compiler vectorises the first
            quant[k] = np.int64(np.floor(mixed[i, k] * 65536.0)) + 1
        for k in range(256):
            cum[k + 1] = cum[k] + quant[k]
        moment = np.int64(0)  # the network's first moment (variant 2's OLS tap)
        for k in range(256):
            cumn[k + 1] = cumn[k] + netf[i, k]
            moment += k * netf[i, k]
        for k in range(1, 256):
            if netf[i, k] > top:
                best, top = k, netf[i, k]
        # the causal neighbourhood (rows above and columns to the left only)
        n_ = _at(img, r - 1, c, ch) if r > 0 else -1
        w_ = _at(img, r, c - 1, ch) if c > 0 else n_
        if n_ < 0:
            n_ = w_ if w_ >= 0 else 128
        if w_ < 0:
            w_ = n_
        nw = _at(img, r - 1, c - 1, ch) if c > 0 and r > 0 else n_
        ne = _at(img, r - 1, c + 1, ch) if r > 0 else n_
        nn = _at(img, r - 2, c, ch) if r > 1 else n_
        ww = _at(img, r, c - 2, ch) if c > 1 else w_
        nne = _at(img, r - 2, c + 1, ch) if r > 1 else ne
        grad = abs(w_ - nw) + abs(n_ - nw) + abs(ne - n_)
        gb = 0
        while gb < 7 and grad >= (2 << gb):
            gb += 1
        plane = _clamp(w_ + n_ - nw)
        hi_, lo_ = max(w_, n_), min(w_, n_)
        med = lo_ if nw >= hi_ else (hi_ if nw <= lo_ else plane)  # LOCO-I's MED
        base = (w_ + n_ + 1) >> 1
        for k in range(FEATURES):
            feat[k] = 0
        feat[0] = w_ - base
        feat[1] = n_ - base
        feat[2] = nw - base
        feat[3] = ne - base
        feat[4] = ww - base
        feat[5] = nn - base
        feat[6] = nne - base
        if ch > 0:  # colour: this pixel's previous channel and the differences around it
            q = ch - 1
            p1 = np.int64(cur[i, q])
            qw = _at(img, r, c - 1, q) if c > 0 else p1
            qn = _at(img, r - 1, c, q) if r > 0 else p1
            qnw = _at(img, r - 1, c - 1, q) if r > 0 and c > 0 else p1
            qne = _at(img, r - 1, c + 1, q) if r > 0 else p1
            c_w = _clamp(p1 + w_ - qw)
            c_n = _clamp(p1 + n_ - qn)
            c_a = _clamp(p1 + (w_ - qw + n_ - qn) // 2)
            c_p = _clamp(p1 + (w_ - qw) + (n_ - qn) - (nw - qnw))
            colour = np.int64(_hash(p1, np.int64(cur[i, 0]) if ch == 2 else 0) >> np.uint64(8))
            feat[7] = p1 - base
            feat[8] = qw - base
            feat[9] = qn - base
            feat[10] = qnw - base
            feat[11] = qne - base
            if ch == 2:
                r0 = np.int64(cur[i, 0])
                feat[12] = r0 - base
                feat[13] = (_at(img, r, c - 1, 0) if c > 0 else r0) - base
        else:
            c_w = _clamp(2 * w_ - ww)
            c_n = _clamp(2 * n_ - nn)
            c_a = _clamp(n_ + ne - nne)
            c_p = med
            colour = np.int64(_hash(w_, n_) >> np.uint64(8))
        acc = np.int64(0)
        norm = np.int64(16)
        for k in range(FEATURES):
            acc += lms[ch, k] * feat[k]
            norm += feat[k] * feat[k]
        lpred16 = (acc >> 10) + base * 16  # in 1/16
        lp = _clamp((lpred16 + 8) >> 4)
        lres = left[r, ch] if left[r, ch] < 15 else 15
        op, op_q, n_taps, oe, se, eb, ab = lp, 0, 0, 0, 0, 0, gb
        if v2:  # the least-squares prediction, and its recent errors
            n_taps = _ols_taps(img, cur, i, r, c, ch, taps[ch], w_,
                               OLS_SAME_V3 if v3 else OLS_SAME)
            # the network's mean (both sums are integers below 2^51: exact in float64)
            taps[ch, n_taps] = moment / cumn[256] if cumn[256] > 0 else 128.0
            n_taps += 1
            y = M.ols_predict(olsw[ch], taps[ch], n_taps)
            y = 0.0 if y < 0.0 else (255.0 if y > 255.0 else y)
            op = np.int64(np.floor(y + 0.5))
            op_q = np.int64(np.floor(y * OLS_FRACTION + 0.5))
            oe = abs(err[r, ch])  # at the left pixel
            # the row above's last: (r - 1, c + 2), coded just before in this step
            oe_ne = abs(err[r - 1, ch]) if r > 0 else oe
            se = err[r, ch - 1] if ch > 0 else err[r, ch]  # this pixel's previous channel
            se = -31 if se < -31 else (31 if se > 31 else se)
            while eb < 7 and oe + oe_ne >= (1 << eb):
                eb += 1
            act, ab = grad + 2 * (oe + oe_ne), 0  # the relative models' activity
            while ab < 7 and act >= (2 << ab):
                ab += 1
        ctx[0] = _hash(0, w_)
        ctx[1] = _hash(1, n_)
        ctx[2] = _hash(2, plane)
        ctx[3] = _hash(3, n_ * 256 + ne)
        ctx[4] = _hash(4, w_ * 256 + nw)
        ctx[5] = _hash(5, (w_ + ne) // 2)
        ctx[6] = _hash(6, _clamp(n_ + ne - nne))
        ctx[7] = _hash(7, c_w)
        ctx[8] = _hash(9, best * 16 + lres)  # the network's mode, the error to the left
        ctx[9] = _hash(10, (w_ >> 2) * 4096 + (n_ >> 2) * 64 + (nw >> 2))  # texture
        ctx[10] = _hash(11, c_n)
        ctx[11] = _hash(13, c_p)
        ctx[12] = _hash(14, colour)
        if v2:
            ctx[13] = _hash(15, op)
            preds[8] = op
            preds[9] = _clamp(op + se)
        for k in range(n_hashed):
            ctx[k] = _hash(ctx[k], ch)
        preds[0] = w_
        preds[1] = plane
        preds[2] = c_w
        preds[3] = c_n
        preds[4] = c_a
        preds[5] = c_p
        preds[6] = lp
        preds[7] = (w_ + ne + 1) // 2
        x = np.int64(cur[i, ch]) if not decode else 0
        node = 1
        bits = 0.0
        for b in range(8):
            if b == 0 or b == 4:  # a bucket of 16 slots per context and nibble
                for k in range(n_hashed):
                    h = _hash(ctx[k], node) if b == 4 else ctx[k]
                    idx[k] = np.int64(h & mask) & ~15
            sub = node if b < 4 else ((1 << (b - 4)) | (node & ((1 << (b - 4)) - 1)))
            width = 1 << (8 - b)
            lo = (node - (1 << b)) * width
            mid = lo + width // 2
            pm = M.bit_probability(cum, lo, width)
            pn = M.bit_probability(cumn, lo, width)
            for k in range(n_hashed):
                inputs[k] = M.stretch(np.int64(table[k, idx[k] + sub, 0]) + M.HALF)
            for k in range(n_rel):
                d = preds[k] - mid
                if v2 and k == 8:  # the OLS prediction's offset from mid - 1/2, in quarters
                    d = op_q - OLS_FRACTION * mid + OLS_FRACTION // 2
                d = -511 if d < -511 else (511 if d > 511 else d)
                ridx[k] = (((k * 3 + ch) * 8 + b) * 8 + ab) * 1024 + d + 512
                inputs[n_hashed + k] = M.stretch(rprob[ridx[k]])
            inputs[net_at] = M.stretch(pn)
            inputs[net_at + 1] = M.stretch(pm)
            a4 = (ch * 256 + node) * 8 + gb
            q4, lo4, w4 = M.apm_p(apm4, a4, pn)
            d5 = (op if v3 else lp) - mid  # v3: around the least-squares prediction
            d5 = (-31 if d5 < -31 else (31 if d5 > 31 else d5)) + 32
            a5 = (ch * 8 + b) * 64 + d5
            q5, lo5, w5 = M.apm_p(apm5, a5, pm)
            inputs[net_at + 2] = M.stretch(q4)
            inputs[net_at + 3] = M.stretch(q5)
            inputs[net_at + 4] = 256
            row1 = ch * 256 + node
            conf = (inputs[net_at + 1] + 2048) >> 9
            row2 = NODE_ROWS + (ch * 8 + (0 if conf < 0 else (7 if conf > 7 else conf))) * 8 + b
            row3 = NODE_ROWS + CONF_ROWS + (ch * 8 + gb) * 8 + b
            pa, da = M.mix(weights, row1, inputs, n_in)
            pb, db = M.mix(weights, row2, inputs, n_in)
            pc, dc = M.mix(weights, row3, inputs, n_in)
            row4 = NODE_ROWS + CONF_ROWS + GRAD_ROWS + (ch * 8 + eb) * 8 + b
            frow = ch * 8 + b
            if v3:  # a final mixer over the four weight sets' outputs (it starts as v2's mean)
                pd, dd = M.mix(weights, row4, inputs, n_in)
                fin[0], fin[1], fin[2], fin[3] = _st(da), _st(db), _st(dc), _st(dd)
                p, _ = M.mix(final, frow, fin, 4)
            elif v2:
                pd, dd = M.mix(weights, row4, inputs, n_in)
                p = M.squash((da + db + dc + dd) >> 2)
            else:
                pd = 0
                p = M.squash((da + db + dc) // 3)
            a1 = ch * 256 + node
            q1, lo1, w1 = M.apm_p(apm1, a1, p)
            a2 = a1 * 16 + lres
            q2, lo2, w2 = M.apm_p(apm2, a2, p)
            d3 = (op if v3 else lp) - mid
            d3 = (-63 if d3 < -63 else (63 if d3 > 63 else d3)) + 64
            a3 = ((ch * 8 + b) * 128 + d3) * 4 + (gb >> 1)
            q3, lo3, w3 = M.apm_p(apm3, a3, p)
            pf = (p + q1 + q2 + q3 + 2) >> 2
            pf = 1 if pf < 1 else (M.PROB_ONE - 1 if pf > M.PROB_ONE - 1 else pf)
            if decode:
                bit = M.decode_bit(coder, payload, pf)
            else:
                bit = (x >> (7 - b)) & 1
                M.encode_bit(coder, out, bit, pf)
                bits += M.COST[pf if bit else M.PROB_ONE - pf]  # the encoder reports it
            M.mix_update(weights, row1, inputs, n_in, pa, bit, RATE)
            M.mix_update(weights, row2, inputs, n_in, pb, bit, RATE)
            M.mix_update(weights, row3, inputs, n_in, pc, bit, RATE)
            if v2:
                M.mix_update(weights, row4, inputs, n_in, pd, bit, RATE)
            if v3:
                M.mix_update(final, frow, fin, 4, p, bit, FINAL_RATE)
            M.apm_update(apm1, a1, lo1, w1, bit, 6)
            M.apm_update(apm2, a2, lo2, w2, bit, 6)
            M.apm_update(apm3, a3, lo3, w3, bit, 6)
            M.apm_update(apm4, a4, lo4, w4, bit, 6)
            M.apm_update(apm5, a5, lo5, w5, bit, 6)
            for k in range(n_hashed):
                M.counter_update(table[k, :, 0], table[k, :, 1], idx[k] + sub, bit,
                                 limit, M.HALF)  # probability and count side by side
            for k in range(n_rel):
                M.counter_update(rprob, rcount, ridx[k], bit, limit)
            node = node * 2 + bit
        x = node & 255
        if decode:
            cur[i, ch] = x
        else:
            cost[i] = bits
        e = x * 16 - lpred16  # the linear predictor learns (NLMS, integer)
        e = -2048 if e < -2048 else (2048 if e > 2048 else e)
        for k in range(FEATURES):
            lms[ch, k] += (e * feat[k] << (10 - LMS_SHIFT)) // norm
        left[r, ch] = abs(x - best)
        if v2:  # the least-squares predictor learns
            err[r, ch] = x - op
            solved[ch] += 1
            M.ols_update(cov[ch], rhs[ch], olsw[ch], chol, taps[ch], n_taps, np.float64(x),
                         OLS_LAMBDA, OLS_DELTA, solved[ch] % OLS_EVERY == 0)


def log2_slots(subpixels: int) -> int:
    """Slots of each hashed model for an image of `subpixels`: 16 per subpixel up to
    2^LOG2_SLOTS (a small image neither allocates nor clears 200 MB of tables)."""
    return min(LOG2_SLOTS, max(10, subpixels.bit_length() + 4))


class ImageCM:
    """The context-mixing state of one image (it runs on across the image's blocks) and
    the binary arithmetic coder of the current block."""

    def __init__(self, height: int, width: int, channels: int = 3,
                 variant: int = VARIANT) -> None:
        if variant not in VARIANTS:
            raise ValueError(f"image context-mixing variant {variant!r}")
        self.variant = variant
        hashed, relative = shape(variant)
        inputs = hashed + relative + 5  # as in `_code`
        slots = 1 << log2_slots(height * width * channels)
        # (probability - 1/2, count) side by side: all zeros at first
        self.table = M.centred_counters((hashed, slots, 2))
        self.rprob, self.rcount = M.counters(relative * REL_ONE, np.uint8)
        rows = NODE_ROWS + CONF_ROWS + GRAD_ROWS + (ERR_ROWS if variant >= 2 else 0)
        self.weights = np.zeros((rows, inputs), dtype=np.int32)
        self.weights[:, hashed + relative + 1] = M.PROB_ONE  # starts as the residual mixture
        self.apms = (M.apm(3 * 256), M.apm(3 * 256 * 16), M.apm(3 * 8 * 128 * 4),
                     M.apm(3 * 256 * 8), M.apm(3 * 8 * 64))
        self.lms = np.zeros((3, FEATURES), dtype=np.int64)
        self.left = np.zeros((height, 3), dtype=np.int64)  # per row: the last |x - mode|
        n = (OLS_MAX_V3 if variant >= 3 else OLS_MAX) if variant >= 2 else 1  # the
        # least-squares predictor per channel:
        self.ols = (np.zeros((3, n, n)), np.zeros((3, n)), np.zeros((3, n)),  # cov, rhs, w,
                    np.zeros((n, n)), np.zeros((3, 2 * n)),  # Cholesky factor, taps,
                    np.zeros(3, dtype=np.int64),  # subpixels learned,
                    np.zeros((height, 3), dtype=np.int64))  # per row: the last error
        self.final = M.mixer(3 * 8, 4)  # variant 3: (channel, bit position), 1/4 each
        self.stream: M.BitStream | None = None

    def start(self, payload: bytes | None = None) -> None:
        """Begin a block: a new encoder, or a decoder of `payload`."""
        self.stream = M.BitStream(payload, 1 << 16)

    def finish(self) -> bytes:
        """The block's encoded payload."""
        return self.stream.finish()

    def code(self, channel: int, rows: np.ndarray, cols: np.ndarray, img: np.ndarray,
             pixels: np.ndarray, freqs: np.ndarray, mixed: np.ndarray,
             decode: bool) -> np.ndarray:
        """Code channel `channel` of `pixels` (n, 3) at (rows, cols): encode them, or
        decode them into `pixels`. Returns each subpixel's ideal bits."""
        n = len(rows)
        if not decode:
            self.stream.reserve(n * MAX_BYTES_PER_SUBPIXEL + 8)
        cost = np.zeros(n)
        _code(decode, self.variant, channel, np.ascontiguousarray(rows, dtype=np.int64),
              np.ascontiguousarray(cols, dtype=np.int64), img, pixels,
              np.ascontiguousarray(freqs, dtype=np.int64),
              np.ascontiguousarray(mixed, dtype=np.float64), self.stream.state,
              self.stream.out, self.stream.data, cost, self.table, self.rprob, self.rcount,
              self.weights, *self.apms, self.lms, self.left, *self.ols, self.final)
        return cost
