"""Binary context mixing for bytes: the text codec's context models (numba).

Each byte is coded as 8 binary decisions, most significant bit first. The context models
(hashed orders 1-6 and 8, sparse, word and record contexts, order 0 and a match model for
long repeats; the full list at `ORDERS`) each give the probability of the next bit from
statistics learned on this input only; the core mixing primitives (`arzip.mixing`)
combine them: mixers whose weight sets small contexts select, then APM stages. Variant 1
is format 4's model, variant 2 that of formats 5-7, variant 3 format 8's (docs/FORMAT.md).

A block may be cut into lanes that advance in lock-step (step t codes byte t of every
lane, lane after lane), all sharing the learned statistics; then the byte Transformer can
run one batched step per step of the lanes, and its byte distribution joins the mixer as
one more input: the exact probability of each next bit, a ratio of sums over its integer
frequencies. One lane without the network is block method 4 (`encode`/`decode`).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from arzip import jitcache
from arzip import mixing as M

jitcache.depends(__file__, M)

ORDERS = 24  # hashed context models: orders 1, 2, 3, 4, 5, 6, 8, sparse, word, word prefix,
# three record contexts (the bytes one and two records above, the one above with the
# previous byte, the column with the one above), the last three words, and two sparse
# contexts (the second byte back; the third and fourth), and two indirect contexts (the
# previous byte, or two, with the two bytes that followed them when they last occurred);
# variant 3 adds two text-line contexts: the column (bytes since the last newline) with
# the previous byte, and the byte at this column of the previous line with the previous
# byte; and the word before the previous one with the current word (skipping one); and,
# in blocks of several lanes, orders 1-3 of each lane's own (LANE_FIRST on): lanes of
# different content share the others' statistics, which blurs the low orders
LANE_FIRST = 21
LANE_SALT = 77
SPARSE_FIRST = 14  # two sparse and two indirect contexts, inputs in binary data only
BINARY = 4096 * 4  # binary: about 4 in 64 recent bytes are control bytes
REC_FIRST = 10  # the first record context
REC_CONFIDENT = 4  # record contexts are inputs once the record length is this sure
ORDERS_V1 = 9  # variant 1 (format 4) has the first nine
ORDERS_V2 = 18  # variant 2 the first 18
INPUTS = ORDERS + 3  # + order 0, match model, bias
NET_INPUTS = 3  # the network's bit probability, it refined by an APM of order 1 and (variant
# 3) by one of order 3
MATCH_MIN = 6  # bytes hashed to find a match
MATCH_LIMIT = 63
MATCH_SLOTS = 1 << 20
VARIANT = 3  # 1: format 4, context slots hashed per bit; 2: formats 5-7, 16-slot buckets;
# 3: format 8, variant 2 with a fourth mixer, the network's order-3 APM and the mixers'
# learning rate raised at the start of a block
# mixer weight sets: variant 1's (partial byte x match; bit position x match), then those
# chosen by the partial byte x the network's confidence, by how many orders know the
# context x bit position x match, by partial byte x match x the previous byte's top bits,
# and by the previous byte x bit position
NET_ROWS = 256 * 4 + 8 * 4
SEEN_ROWS = NET_ROWS + 256 * 16
C1_ROWS = SEEN_ROWS + 8 * 32
C1B_ROWS = C1_ROWS + 8 * 1024  # variant 3: the previous byte x bit position
MIXER_ROWS = C1B_ROWS + 256 * 8
LR_SPAN = 32768  # variant 3: the mixers' rate starts LR_BOOST higher, falling to the
LR_BOOST = 24  # block's rate over its first LR_SPAN bytes (they learn fast, then settle)
MAX_BYTE_OUT = 24  # coded bytes one byte can cost at most (8 bits, p >= 1/65536)


def lane_lengths(n: int, lanes: int) -> np.ndarray:
    """Lengths of the contiguous lanes: the first n % lanes lanes get one extra byte."""
    return n // lanes + (np.arange(lanes) < n % lanes)


_hash = M.hash2  # the shared context hash


@njit(cache=True, nogil=True, inline="always")
def _bucket_slot(h, bmask):
    """The first slot of the first of the two neighbouring buckets of context hash h."""
    return np.int64(h & bmask) << 4


@njit(cache=True, nogil=True, inline="always")
def _bucket(prob, count, h, bmask):
    """The first slot of the 16-slot bucket of context hash h (variant 2): slot 0 holds a
    16-bit check of the hash, slots 1-15 the counters of a nibble's partial values. Of two
    neighbouring buckets the one whose check matches is used, else the one whose first
    counter has seen fewer bits is reset for this context."""
    tag = np.int64(h >> np.uint64(48))
    a = _bucket_slot(h, bmask)
    b = a ^ 16
    if prob[a] == tag:
        return a
    if prob[b] == tag:
        return b
    if count[b + 1] < count[a + 1]:
        a = b
    prob[a] = tag
    for j in range(a + 1, a + 16):
        prob[j] = M.PROB_ONE // 2
        count[j] = 0
    return a


@njit(cache=True, nogil=True, inline="always")
def _known(p, lane, t, starts, n):
    """Whether block position p is coded before byte t of `lane` (lanes in lock-step)."""
    if p >= n:
        return False
    owner = np.searchsorted(starts, p, side="right") - 1
    offset = p - starts[owner]
    return offset < t or (offset == t and owner < lane)


@njit(cache=True, nogil=True)
def _steps(t0, t1, lo, hi, starts, lengths, data, decode, payload, out, coder, cost, net, use_net,
           lane_c4, lane_word, lane_prev, lane_prev2, lane_bin, lane_mptr, lane_mlen,
           rec_pos, rec_dist, rec_len, rec_conf, lane_col, lane_line, prob, count, p0, n0,
           mprob, mcount, weights, apm1, apm2, apm3, apm4, match_table, ind1, ind2, rate, limit,
           variant):
    """Code steps t0 .. t1-1 of lanes lo .. hi-1 (encode: data -> out; decode: payload -> data);
    net[lane, t - t0] holds the network's frequencies when `use_net`; cost[i] receives the
    ideal bits of byte i (reports only). The model's state
    lives in the arrays given and carries over to the next call. Returns the coded bytes
    so far, or -1 when the output buffer could overflow (the caller stores instead)."""
    n = data.shape[0]
    lanes = starts.shape[0]
    mask = np.uint64(prob.shape[1] - 1)
    bmask = np.uint64((prob.shape[1] >> 4) - 1)
    base = np.zeros(ORDERS, dtype=np.int64)
    tmask = np.uint64(match_table.shape[0] - 1)
    hashes = np.zeros(ORDERS, dtype=np.uint64)
    idx = np.zeros(ORDERS, dtype=np.int64)
    nib_hash = np.zeros(ORDERS, dtype=np.uint64)
    sink = np.zeros(1, dtype=np.int64)
    inputs = np.zeros(INPUTS + NET_INPUTS, dtype=np.int64)
    n_ord = ORDERS_V1 if variant < 2 else (ORDERS_V2 if variant < 3 else ORDERS)
    if variant >= 3 and lanes == 1:
        n_ord = LANE_FIRST  # one lane: its own orders would repeat orders 1-3
    n_in = n_ord + 3 + ((NET_INPUTS if variant >= 3 else 2) if use_net else 0)
    lo4, w4, actx4 = 0, 0, 0
    row4, p4 = 0, 0
    net_at = n_ord + 3
    cum = np.zeros(257, dtype=np.int64)
    lo3, w3 = 0, 0
    for t in range(t0, t1):
        for lane in range(lo, hi):
            if t >= lengths[lane]:
                continue
            if not decode and coder[2] > out.shape[0] - MAX_BYTE_OUT:
                return -1
            i = starts[lane] + t
            c4 = lane_c4[lane]
            match_ptr = lane_mptr[lane]
            match_len = lane_mlen[lane]
            hashes[0] = _hash(np.uint64(1), c4 & np.uint64(0xFF))
            hashes[1] = _hash(np.uint64(2), c4 & np.uint64(0xFFFF))
            hashes[2] = _hash(np.uint64(3), c4 & np.uint64(0xFFFFFF))
            hashes[3] = _hash(np.uint64(4), c4 & np.uint64(0xFFFFFFFF))
            hashes[4] = _hash(np.uint64(5), c4 & np.uint64(0xFFFFFFFFFF))
            hashes[5] = _hash(np.uint64(6), c4 & np.uint64(0xFFFFFFFFFFFF))
            hashes[6] = _hash(np.uint64(8), c4)
            hashes[7] = _hash(np.uint64(7), c4 & np.uint64(0xFFFF00FF00))
            hashes[8] = _hash(lane_word[lane] + np.uint64(8), lane_prev[lane])
            hashes[9] = _hash(lane_word[lane], np.uint64(10))
            rec_on = False
            if variant >= 2:
                r = rec_len[lane]
                rec_on = r >= 2 and rec_conf[lane] >= REC_CONFIDENT
                above = np.uint64(0)
                above2 = np.uint64(0)
                if r >= 2 and _known(i - r, lane, t, starts, n) and i >= r:
                    above = np.uint64(data[i - r]) + np.uint64(256)
                    if i >= 2 * r and _known(i - 2 * r, lane, t, starts, n):
                        above2 = np.uint64(data[i - 2 * r]) + np.uint64(256)
                ru = np.uint64(r) << np.uint64(20)
                hashes[10] = _hash(np.uint64(11) + ru, above | (above2 << np.uint64(9)))
                hashes[11] = _hash(np.uint64(12) + ru, above | ((c4 & np.uint64(0xFF))
                                                                 << np.uint64(9)))
                hashes[12] = _hash(np.uint64(13) + ru, above | (np.uint64(i % max(r, 1))
                                                                << np.uint64(9)))
                hashes[13] = _hash(_hash(lane_word[lane], lane_prev[lane]), lane_prev2[lane])
                hashes[14] = _hash(np.uint64(14), c4 & np.uint64(0xFF00))
                hashes[15] = _hash(np.uint64(15), c4 & np.uint64(0xFFFF0000))
                c1 = np.int64(c4 & np.uint64(0xFF))
                c2c1 = np.int64(c4 & np.uint64(0xFFFF))
                hashes[16] = _hash(np.uint64(16), np.uint64(c1 | (np.int64(ind1[c1]) << 8)))
                col = lane_col[lane]
                prev_line = lane_line[lane]  # where the previous line started (-1: none)
                above = np.uint64(0)
                if prev_line >= 0 and prev_line + col < i - col - 1:
                    above = np.uint64(data[prev_line + col]) + np.uint64(256)
                hashes[20] = _hash(_hash(lane_prev2[lane], np.uint64(21)), lane_word[lane])
                hashes[19] = _hash(np.uint64(20) + (above << np.uint64(8)), c4 & np.uint64(0xFF))
                hashes[18] = _hash(np.uint64(19) + (np.uint64(min(lane_col[lane], 255))
                                                    << np.uint64(8)), c4 & np.uint64(0xFF))
                hashes[17] = _hash(np.uint64(17), np.uint64(c2c1 | (np.int64(ind2[c2c1])
                                                                    << 16)))
            if n_ord > LANE_FIRST:
                salt = np.uint64(LANE_SALT + lane)
                for k in range(3):
                    hashes[LANE_FIRST + k] = _hash(hashes[k], salt)
            expected = -1
            if match_len > 0:
                expected = np.int64(data[match_ptr])
            if use_net:
                for x in range(256):
                    cum[x + 1] = cum[x] + net[lane, t - t0, x]
            lr = rate
            if variant >= 3:
                coded = t * lanes + lane
                if coded < LR_SPAN:
                    lr = rate + (LR_BOOST * (LR_SPAN - coded)) // LR_SPAN
            c0 = 1
            nib = 1
            for bit_index in range(8):
                if variant >= 2 and (bit_index & 3) == 0:
                    nib = 1
                    touched = 0  # load every order's bucket first: the cache misses overlap
                    for k in range(n_ord):
                        h = hashes[k] if bit_index == 0 else _hash(hashes[k], np.uint64(c0))
                        nib_hash[k] = h
                        a = _bucket_slot(h, bmask)  # what `_bucket` reads first
                        touched += prob[k, a] + count[k, a + 1]
                    sink[0] = touched
                    for k in range(n_ord):
                        base[k] = _bucket(prob[k], count[k], nib_hash[k], bmask)
                for k in range(n_ord):
                    if variant >= 2:
                        j = base[k] + nib
                    else:
                        j = np.int64(_hash(hashes[k], np.uint64(c0)) & mask)
                    idx[k] = j
                    inputs[k] = M.stretch(prob[k, j]) if count[k, j] else 0
                if not rec_on:
                    for k in range(REC_FIRST, REC_FIRST + 3):
                        inputs[k] = 0
                if variant >= 2 and lane_bin[lane] < BINARY:
                    for k in range(SPARSE_FIRST, SPARSE_FIRST + 4):
                        inputs[k] = 0
                inputs[n_ord] = M.stretch(p0[c0])
                mctx = -1
                predicted = 0
                if expected >= 0 and ((expected + 256) >> (8 - bit_index)) == c0:
                    predicted = (expected >> (7 - bit_index)) & 1
                    mctx = 2 * min(match_len, MATCH_LIMIT) + predicted
                    st = M.stretch(mprob[mctx])
                    inputs[n_ord + 1] = st if predicted else -st
                else:
                    inputs[n_ord + 1] = 0
                inputs[n_ord + 2] = 256
                actx = c0 | (np.int64(c4 & np.uint64(0xFF)) << 8)  # partial and previous byte
                if use_net:
                    width = 1 << (8 - bit_index)
                    pn = M.bit_probability(cum, (c0 - (1 << bit_index)) * width, width)
                    inputs[net_at] = M.stretch(pn)
                    q3, lo3, w3 = M.apm_p(apm3, actx, pn)
                    inputs[net_at + 1] = M.stretch(q3)
                    if variant >= 3:
                        actx4 = np.int64((hashes[2] + np.uint64(c0) * np.uint64(0x9E3779B1))
                                         >> np.uint64(46))  # order 3, hashed
                        q4, lo4, w4 = M.apm_p(apm4, actx4, pn)
                        inputs[net_at + 2] = M.stretch(q4)
                mbucket = 0 if match_len == 0 else (1 if match_len < 16 else (
                    2 if match_len < 32 else 3))
                row = c0 * 4 + mbucket
                if variant >= 2:
                    row = C1_ROWS + ((np.int64(c4 & np.uint64(0xE0)) << 5) | row)  # c1's top
                    seen = 0
                    for k in range(7):  # orders 1-6 and 8: how many have seen this context
                        if count[k, idx[k]]:
                            seen += 1
                    row2 = SEEN_ROWS + seen * 32 + bit_index * 4 + mbucket
                else:
                    row2 = 256 * 4 + bit_index * 4 + mbucket
                pa, da = M.mix(weights, row, inputs, n_in)
                pb, db = M.mix(weights, row2, inputs, n_in)
                if use_net:
                    row3 = NET_ROWS + c0 * 16 + ((inputs[net_at] + 2048) >> 8)
                    pc, dc = M.mix(weights, row3, inputs, n_in)
                    if variant >= 3:
                        row4 = C1B_ROWS + (np.int64(c4 & np.uint64(0xFF)) << 3) + bit_index
                        p4, d4 = M.mix(weights, row4, inputs, n_in)
                        pm = M.squash((da + db + dc + d4) >> 2)
                    else:
                        pm = M.squash((da + db + dc) // 3)
                else:
                    pm = M.squash((da + db) >> 1)
                actx1 = c0
                if variant >= 2:  # order 2, hashed
                    actx1 = np.int64((hashes[1] + np.uint64(c0) * np.uint64(0x9E3779B1))
                                     >> np.uint64(46))
                q1, lo1, w1 = M.apm_p(apm1, actx1, pm)
                q2, lo2, w2 = M.apm_p(apm2, actx, pm)
                p = (2 * pm + q1 + q2 + 2) >> 2 if variant < 2 else (pm + q1 + 2 * q2 + 2) >> 2
                if p < 1:
                    p = 1
                elif p > M.PROB_ONE - 1:
                    p = M.PROB_ONE - 1
                if decode:
                    bit = M.decode_bit(coder, payload, p)
                else:
                    bit = (np.int64(data[i]) >> (7 - bit_index)) & 1
                    M.encode_bit(coder, out, bit, p)
                cost[i] += M.COST[p if bit else M.PROB_ONE - p]
                M.mix_update(weights, row, inputs, n_in, pa, bit, lr)
                M.mix_update(weights, row2, inputs, n_in, pb, bit, lr)
                if use_net:
                    M.mix_update(weights, row3, inputs, n_in, pc, bit, lr)
                    if variant >= 3:
                        M.mix_update(weights, row4, inputs, n_in, p4, bit, lr)
                M.apm_update(apm1, actx1, lo1, w1, bit, 7 if variant < 2 else 6)
                M.apm_update(apm2, actx, lo2, w2, bit, 7 if variant < 2 else 6)
                if use_net:
                    M.apm_update(apm3, actx, lo3, w3, bit, 6)
                    if variant >= 3:
                        M.apm_update(apm4, actx4, lo4, w4, bit, 6)
                for k in range(n_ord):
                    M.counter_update(prob[k], count[k], idx[k], bit, limit)
                M.counter_update(p0, n0, c0, bit, limit)
                if mctx >= 0:
                    M.counter_update(mprob, mcount, mctx, 1 if bit == predicted else 0, 1023)
                c0 = (c0 << 1) | bit
                nib = (nib << 1) | bit
            byte = c0 & 0xFF
            if decode:
                data[i] = byte
            if variant >= 2:  # indirect: what followed the previous one and two bytes
                c1 = np.int64(c4 & np.uint64(0xFF))
                c2c1 = np.int64(c4 & np.uint64(0xFFFF))
                ind1[c1] = ((np.int64(ind1[c1]) << 8) | byte) & 0xFFFF
                ind2[c2c1] = ((np.int64(ind2[c2c1]) << 8) | byte) & 0xFFFF
            if byte == 10:
                lane_line[lane] = i - lane_col[lane]  # this line's start
                lane_col[lane] = 0
            else:
                lane_col[lane] += 1
            c4 = (c4 << np.uint64(8)) | np.uint64(byte)
            lane_c4[lane] = c4
            lower = byte | 32 if 65 <= byte <= 90 else byte
            control = byte < 9 or 13 < byte < 32 or byte == 127
            lane_bin[lane] += (4096 if control else 0) - (lane_bin[lane] >> 6)
            if 97 <= lower <= 122 or byte >= 128:
                lane_word[lane] = _hash(lane_word[lane], np.uint64(lower))
            elif lane_word[lane] != 0:
                lane_prev2[lane] = lane_prev[lane]
                lane_prev[lane] = lane_word[lane]
                lane_word[lane] = np.uint64(0)
            # match model: follow the match (a known position stays known), or find one
            if match_len > 0 and expected == byte and match_ptr + 1 < n:
                match_len += 1
                match_ptr += 1
            else:
                match_len = 0
            if t + 1 >= MATCH_MIN:
                h = np.int64(_hash(np.uint64(9), c4 & np.uint64(0xFFFFFFFFFFFF)) & tmask)
                if match_len == 0:
                    candidate = match_table[h]
                    if candidate > 0 and _known(candidate, lane, t + 1, starts, n):
                        match_ptr = candidate
                        match_len = 1
                match_table[h] = i + 1
            lane_mptr[lane] = match_ptr
            lane_mlen[lane] = match_len
            if variant >= 2:  # record length: a distance that repeats between equal bytes
                last = rec_pos[lane, byte]
                if last >= 0:
                    d = i - last
                    if d == rec_dist[lane, byte] and d >= 2:
                        if d == rec_len[lane]:
                            if rec_conf[lane] < 16:
                                rec_conf[lane] += 1
                        elif rec_conf[lane] > 0:
                            rec_conf[lane] -= 1
                        else:
                            rec_len[lane] = d
                    rec_dist[lane, byte] = d
                rec_pos[lane, byte] = i
    return coder[3] if decode else coder[2]


class LaneCoder:
    """The context-mixing model of one block of n bytes in `lanes` lock-step lanes: codes
    (or decodes, when given a payload) steps of all lanes, carrying its state across calls;
    the network is an input of the steps `code` is given its frequencies for."""

    def __init__(self, n: int, lanes: int, payload: bytes | None = None,
                 log2_slots: int = 22, rate: int = 8, limit: int = 255,
                 variant: int = VARIANT) -> None:
        self.variant = variant
        lengths = lane_lengths(n, lanes)
        self.lengths = lengths.astype(np.int64)
        self.starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        self.steps = int(lengths.max()) if n else 0
        self.decode = payload is not None
        self.data = np.zeros(n, dtype=np.uint8)
        self.cost = np.zeros(n)  # ideal bits of each byte
        if self.decode:
            self.payload = np.frombuffer(payload, dtype=np.uint8).copy()
            self.out = self.payload
            self.coder = M.decoder_state(self.payload)
        else:
            self.payload = np.zeros(1, dtype=np.uint8)
            self.out = np.zeros(n + n // 2 + 2 * MAX_BYTE_OUT, dtype=np.uint8)
            self.coder = M.encoder_state()
        def zeros(dtype: type) -> np.ndarray:
            return np.zeros(lanes, dtype=dtype)

        # per lane: last 8 bytes, word, previous two words, binary score, match, record,
        # column and the previous line's start
        self.lane_state = (zeros(np.uint64), zeros(np.uint64), zeros(np.uint64),
                           zeros(np.uint64), zeros(np.int64), zeros(np.int64),
                           zeros(np.int64), np.full((lanes, 256), -1, dtype=np.int64),
                           np.zeros((lanes, 256), dtype=np.int64), zeros(np.int64),
                           zeros(np.int64), zeros(np.int64),
                           np.full(lanes, -1, dtype=np.int64))
        orders = ORDERS_V1 if variant < 2 else (ORDERS_V2 if variant < 3 else ORDERS)
        prob, count = M.counters(orders << log2_slots,  # 2^22 slots: 12 or 16 MB per order
                                 np.uint8 if limit <= 255 else np.uint16)
        p0, n0 = M.counters(256)
        mprob, mcount = M.counters(2 * (MATCH_LIMIT + 1))
        apm1 = M.apm(256 if variant < 2 else 1 << 18)  # order 0 (variant 1), else order 2
        self.tables = (prob.reshape(orders, -1), count.reshape(orders, -1), p0, n0, mprob,
                       mcount, M.mixer(MIXER_ROWS, INPUTS + NET_INPUTS,
                                       1 << (14 if variant < 2 else 13)), apm1,
                       M.apm(65536), M.apm(65536), M.apm(1 << 18 if variant >= 3 else 1),
                       np.zeros(MATCH_SLOTS, dtype=np.int64),
                       np.zeros(256, dtype=np.uint16), np.zeros(65536, dtype=np.uint16))
        self.rate, self.limit = rate, limit
        self.overflow = False
        self._none = np.zeros((lanes, 0, 256), dtype=np.int64)

    def code(self, t0: int, t1: int, net: np.ndarray | None = None, lo: int = 0,
             hi: int | None = None) -> np.ndarray:
        """Steps t0 .. t1-1 of lanes lo .. hi-1 (all by default: a step of the lanes in
        two calls, lanes 0 .. k-1 then k .., codes exactly what one call codes); `net`
        (lanes, t1 - t0, 256): the network's integer frequencies (rows lo .. hi-1 read).
        Returns the bytes of those steps (hi - lo, t1 - t0), 0 past a lane's end."""
        hi = len(self.starts) if hi is None else hi
        if self.overflow:
            return np.zeros((hi - lo, t1 - t0), dtype=np.uint8)
        size = _steps(t0, t1, lo, hi, self.starts, self.lengths, self.data, self.decode,
                      self.payload, self.out, self.coder, self.cost,
                      self._none if net is None else net, net is not None, *self.lane_state,
                      *self.tables, self.rate, self.limit, self.variant)
        if size < 0:
            self.overflow = True
        pos = self.starts[lo:hi, None] + np.arange(t0, t1)[None, :]
        inside = np.arange(t0, t1)[None, :] < self.lengths[lo:hi, None]
        return np.where(inside, self.data[np.minimum(pos, max(len(self.data) - 1, 0))], 0)

    def finish(self) -> bytes | None:
        """The encoder's payload (None if it outgrew its buffer: worse than storing)."""
        if self.overflow:
            return None
        M.encode_flush(self.coder, self.out)
        return self.out[:self.coder[2]].tobytes()


def variant_of(version: int) -> int:
    """The model variant of a file of format `version` (methods 4 and 5 changed in formats
    5 and 8)."""
    return 1 if version <= 4 else (2 if version <= 7 else 3)


def encode(data: bytes, log2_slots: int = 22, rate: int = 8, limit: int = 255,
           variant: int = VARIANT) -> bytes | None:
    """Block method 4: one lane, no network. None if the payload would exceed 1.5x the input."""
    coder = LaneCoder(len(data), 1, log2_slots=log2_slots, rate=rate, limit=limit,
                      variant=variant)
    coder.data[:] = np.frombuffer(data, dtype=np.uint8)
    coder.code(0, coder.steps)
    return coder.finish()


def decode(payload: bytes, n: int, variant: int = VARIANT, log2_slots: int = 22,
           rate: int = 8, limit: int = 255) -> bytes:
    coder = LaneCoder(n, 1, payload, log2_slots=log2_slots, rate=rate, limit=limit,
                      variant=variant)
    coder.code(0, coder.steps)
    return coder.data.tobytes()
