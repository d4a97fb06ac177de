"""Compiled loops of the deflate re-creation (RFC 1951 bit streams), numba.

`parse` reads a raw deflate stream into its structure: the content it inflates to, the
matches (position, length, distance; every other position is a literal) and a table of
its blocks. `write` turns that structure back into the same bits. Between the two nothing
is lost: a dynamic block's header (its Huffman code lengths and their own coding) is kept
as the exact bits it had, stored blocks keep their alignment bits, and the stream its
final padding. Integers only.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# block table columns
B_TYPE, B_FINAL, B_END, B_HEAD_START, B_HEAD_BITS, B_PAD = range(6)
B_COLUMNS = 6

# status codes of parse
OK, BAD_STREAM, OUT_FULL, TABLE_FULL, TRUNCATED = 0, 1, 2, 3, 4

LENGTH_BASE = np.array([3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51,
                        59, 67, 83, 99, 115, 131, 163, 195, 227, 258], dtype=np.int64)
LENGTH_EXTRA = np.array([0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4,
                         4, 5, 5, 5, 5, 0], dtype=np.int64)
DIST_BASE = np.array([1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385,
                      513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385,
                      24577], dtype=np.int64)
DIST_EXTRA = np.array([0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10,
                       10, 11, 11, 12, 12, 13, 13], dtype=np.int64)
CL_ORDER = np.array([16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15],
                    dtype=np.int64)
MAX_BITS = 15


@njit(cache=True, nogil=True)
def _bits(src, pos, n):
    """n bits (LSB first) at bit position pos; -1 past the end."""
    if pos + n > src.shape[0] * 8:
        return -1
    v = 0
    for i in range(n):
        p = pos + i
        v |= ((src[p >> 3] >> (p & 7)) & 1) << i
    return v


@njit(cache=True, nogil=True)
def _table(lengths, n, count, symbols):
    """Canonical Huffman decoding table of lengths[:n] into count/symbols; False when the
    lengths over-subscribe the code."""
    for i in range(MAX_BITS + 1):
        count[i] = 0
    for s in range(n):
        count[lengths[s]] += 1
    left = 1
    for i in range(1, MAX_BITS + 1):
        left = (left << 1) - count[i]
        if left < 0:
            return False
    offs = np.zeros(MAX_BITS + 2, dtype=np.int64)
    for i in range(1, MAX_BITS):
        offs[i + 1] = offs[i] + count[i]
    for s in range(n):
        if lengths[s] != 0:
            symbols[offs[lengths[s]]] = s
            offs[lengths[s]] += 1
    return True


@njit(cache=True, nogil=True)
def _decode(src, pos, count, symbols):
    """(symbol, new bit position); symbol -1 on a bad or truncated code."""
    code = 0
    first = 0
    index = 0
    total = src.shape[0] * 8
    for length in range(1, MAX_BITS + 1):
        if pos >= total:
            return -1, pos
        code |= (src[pos >> 3] >> (pos & 7)) & 1
        pos += 1
        c = count[length]
        if code - c < first:
            return symbols[index + (code - first)], pos
        index += c
        first += c
        first <<= 1
        code <<= 1
    return -1, pos


@njit(cache=True, nogil=True)
def _dynamic_lengths(src, pos, lengths):
    """Read a dynamic block header at bit pos into lengths[0:320] (literal/length codes
    then distance codes). Returns (new pos, nlit, ndist), or pos -1 when it is bad."""
    nlit = _bits(src, pos, 5)
    ndist = _bits(src, pos + 5, 5)
    ncode = _bits(src, pos + 10, 4)
    if nlit < 0 or ndist < 0 or ncode < 0:
        return -1, 0, 0
    nlit += 257
    ndist += 1
    ncode += 4
    if nlit > 286 or ndist > 30:
        return -1, 0, 0
    pos += 14
    cl = np.zeros(19, dtype=np.int64)
    for i in range(ncode):
        v = _bits(src, pos, 3)
        if v < 0:
            return -1, 0, 0
        cl[CL_ORDER[i]] = v
        pos += 3
    count = np.zeros(MAX_BITS + 1, dtype=np.int64)
    symbols = np.zeros(320, dtype=np.int64)
    if not _table(cl, 19, count, symbols):
        return -1, 0, 0
    i = 0
    while i < nlit + ndist:
        sym, pos = _decode(src, pos, count, symbols)
        if sym < 0:
            return -1, 0, 0
        if sym < 16:
            lengths[i] = sym
            i += 1
            continue
        if sym == 16:
            if i == 0:
                return -1, 0, 0
            prev = lengths[i - 1]
            rep = _bits(src, pos, 2)
            pos += 2
            rep += 3
        elif sym == 17:
            prev = 0
            rep = _bits(src, pos, 3)
            pos += 3
            rep += 3
        else:
            prev = 0
            rep = _bits(src, pos, 7)
            pos += 7
            rep += 11
        if rep < 3 or i + rep > nlit + ndist:
            return -1, 0, 0
        for _ in range(rep):
            lengths[i] = prev
            i += 1
    if lengths[256] == 0:
        return -1, 0, 0
    return pos, nlit, ndist


@njit(cache=True, nogil=True)
def _fixed_lengths(lengths):
    for s in range(144):
        lengths[s] = 8
    for s in range(144, 256):
        lengths[s] = 9
    for s in range(256, 280):
        lengths[s] = 7
    for s in range(280, 288):
        lengths[s] = 8
    for s in range(30):
        lengths[288 + s] = 5


@njit(cache=True, nogil=True)
def parse(src, out, mpos, mlen, mdist, blocks):
    """Inflate the raw deflate stream src into out, recording matches and blocks.

    Returns (status, bits used, content length, matches, blocks)."""
    pos = 0
    n = 0
    nm = 0
    nb = 0
    lengths = np.zeros(320, dtype=np.int64)
    lcount = np.zeros(MAX_BITS + 1, dtype=np.int64)
    lsym = np.zeros(320, dtype=np.int64)
    dcount = np.zeros(MAX_BITS + 1, dtype=np.int64)
    dsym = np.zeros(320, dtype=np.int64)
    while True:
        if nb >= blocks.shape[0]:
            return TABLE_FULL, pos, n, nm, nb
        final = _bits(src, pos, 1)
        btype = _bits(src, pos + 1, 2)
        if final < 0 or btype < 0:
            return TRUNCATED, pos, n, nm, nb
        pos += 3
        blocks[nb, B_TYPE] = btype
        blocks[nb, B_FINAL] = final
        blocks[nb, B_HEAD_START] = pos
        blocks[nb, B_HEAD_BITS] = 0
        blocks[nb, B_PAD] = 0
        if btype == 0:
            pad = (8 - (pos & 7)) & 7
            blocks[nb, B_PAD] = _bits(src, pos, pad)
            pos += pad
            byte = pos >> 3
            if byte + 4 > src.shape[0]:
                return TRUNCATED, pos, n, nm, nb
            size = src[byte] | (src[byte + 1] << 8)
            check = src[byte + 2] | (src[byte + 3] << 8)
            if size != (~check & 0xFFFF):
                return BAD_STREAM, pos, n, nm, nb
            byte += 4
            if byte + size > src.shape[0]:
                return TRUNCATED, pos, n, nm, nb
            if n + size > out.shape[0]:
                return OUT_FULL, pos, n, nm, nb
            for i in range(size):
                out[n + i] = src[byte + i]
            n += size
            pos = (byte + size) * 8
        elif btype == 3:
            return BAD_STREAM, pos, n, nm, nb
        else:
            if btype == 1:
                _fixed_lengths(lengths)
                nlit, ndist = 288, 30
            else:
                start = pos
                pos, nlit, ndist = _dynamic_lengths(src, pos, lengths)
                if pos < 0:
                    return BAD_STREAM, start, n, nm, nb
                blocks[nb, B_HEAD_BITS] = pos - start
            if not _table(lengths[:nlit], nlit, lcount, lsym):
                return BAD_STREAM, pos, n, nm, nb
            if not _table(lengths[nlit:nlit + ndist], ndist, dcount, dsym):
                return BAD_STREAM, pos, n, nm, nb
            while True:
                sym, pos = _decode(src, pos, lcount, lsym)
                if sym < 0:
                    return BAD_STREAM, pos, n, nm, nb
                if sym < 256:
                    if n >= out.shape[0]:
                        return OUT_FULL, pos, n, nm, nb
                    out[n] = sym
                    n += 1
                    continue
                if sym == 256:
                    break
                sym -= 257
                if sym >= 29:
                    return BAD_STREAM, pos, n, nm, nb
                extra = _bits(src, pos, LENGTH_EXTRA[sym])
                if extra < 0:
                    return TRUNCATED, pos, n, nm, nb
                pos += LENGTH_EXTRA[sym]
                length = LENGTH_BASE[sym] + extra
                if sym == 27 and extra == 31:  # 258 spelt with code 284: not re-creatable
                    return BAD_STREAM, pos, n, nm, nb
                dsymbol, pos = _decode(src, pos, dcount, dsym)
                if dsymbol < 0 or dsymbol >= 30:
                    return BAD_STREAM, pos, n, nm, nb
                extra = _bits(src, pos, DIST_EXTRA[dsymbol])
                if extra < 0:
                    return TRUNCATED, pos, n, nm, nb
                pos += DIST_EXTRA[dsymbol]
                dist = DIST_BASE[dsymbol] + extra
                if dist > n:
                    return BAD_STREAM, pos, n, nm, nb
                if n + length > out.shape[0]:
                    return OUT_FULL, pos, n, nm, nb
                if nm >= mpos.shape[0]:
                    return TABLE_FULL, pos, n, nm, nb
                mpos[nm] = n
                mlen[nm] = length
                mdist[nm] = dist
                nm += 1
                for i in range(length):
                    out[n + i] = out[n + i - dist]
                n += length
        blocks[nb, B_END] = n
        nb += 1
        if final:
            return OK, pos, n, nm, nb


@njit(cache=True, nogil=True)
def _codes(lengths, n, codes):
    """Canonical codes of lengths[:n], bit-reversed for LSB-first writing."""
    count = np.zeros(MAX_BITS + 1, dtype=np.int64)
    for s in range(n):
        count[lengths[s]] += 1
    count[0] = 0
    next_code = np.zeros(MAX_BITS + 2, dtype=np.int64)
    code = 0
    for bits in range(1, MAX_BITS + 1):
        code = (code + count[bits - 1]) << 1
        next_code[bits] = code
    for s in range(n):
        length = lengths[s]
        if length:
            c = next_code[length]
            next_code[length] += 1
            r = 0
            for _ in range(length):
                r = (r << 1) | (c & 1)
                c >>= 1
            codes[s] = r


@njit(cache=True, nogil=True)
def _put(dst, pos, value, n):
    for i in range(n):
        if (value >> i) & 1:
            p = pos + i
            dst[p >> 3] |= 1 << (p & 7)
    return pos + n


@njit(cache=True, nogil=True)
def hbits_room(blocks, b):
    return blocks[b, B_HEAD_BITS] if blocks[b, B_TYPE] == 2 else 0


@njit(cache=True, nogil=True)
def write(content, mpos, mlen, mdist, blocks, heads, end_pad, dst):
    """The deflate bits of a parsed stream into dst (zeroed, large enough). `heads` holds
    the bits of the dynamic headers at blocks[:, B_HEAD_START] (as parse saw them). Returns
    the number of bytes written, or -1 when the structure does not fit together."""
    pos = 0
    p = 0
    m = 0
    lengths = np.zeros(320, dtype=np.int64)
    lcodes = np.zeros(288, dtype=np.int64)
    dcodes = np.zeros(30, dtype=np.int64)
    len_sym = np.zeros(259, dtype=np.int64)
    for s in range(29):
        for k in range(1 << LENGTH_EXTRA[s]):
            if LENGTH_BASE[s] + k <= 258:
                len_sym[LENGTH_BASE[s] + k] = s
    dist_sym = np.zeros(32769, dtype=np.int64)
    for s in range(30):
        for k in range(1 << DIST_EXTRA[s]):
            dist_sym[DIST_BASE[s] + k] = s
    for b in range(blocks.shape[0]):
        btype = blocks[b, B_TYPE]
        end = blocks[b, B_END]
        if pos + 64 + hbits_room(blocks, b) > dst.shape[0] * 8:
            return -1
        pos = _put(dst, pos, blocks[b, B_FINAL], 1)
        pos = _put(dst, pos, btype, 2)
        if btype == 0:
            pad = (8 - (pos & 7)) & 7
            pos = _put(dst, pos, blocks[b, B_PAD], pad)
            size = end - p
            if (pos >> 3) + 4 + size > dst.shape[0]:
                return -1
            if size < 0 or size > 65535 or (m < mpos.shape[0] and mpos[m] < end):
                return -1
            byte = pos >> 3
            dst[byte] = size & 0xFF
            dst[byte + 1] = size >> 8
            dst[byte + 2] = ~size & 0xFF
            dst[byte + 3] = (~size >> 8) & 0xFF
            for i in range(size):
                dst[byte + 4 + i] = content[p + i]
            p = end
            pos = (byte + 4 + size) * 8
            continue
        if btype == 1:
            _fixed_lengths(lengths)
            nlit = 288
            ndist = 30
        else:
            start = blocks[b, B_HEAD_START]
            hbits = blocks[b, B_HEAD_BITS]
            _, nlit, ndist = _dynamic_lengths(heads, start, lengths)
            for i in range(hbits):
                q = start + i
                if (heads[q >> 3] >> (q & 7)) & 1:
                    dst[(pos + i) >> 3] |= 1 << ((pos + i) & 7)
            pos += hbits
        for s in range(288):
            lcodes[s] = 0
        for s in range(30):
            dcodes[s] = 0
        _codes(lengths[:nlit], nlit, lcodes)
        _codes(lengths[nlit:nlit + ndist], ndist, dcodes)
        while p < end:
            if pos + 64 > dst.shape[0] * 8:
                return -1
            if m < mpos.shape[0] and mpos[m] == p:
                length = mlen[m]
                dist = mdist[m]
                s = len_sym[length]
                if lengths[257 + s] == 0:
                    return -1
                pos = _put(dst, pos, lcodes[257 + s], lengths[257 + s])
                pos = _put(dst, pos, length - LENGTH_BASE[s], LENGTH_EXTRA[s])
                d = dist_sym[dist]
                if lengths[nlit + d] == 0:
                    return -1
                pos = _put(dst, pos, dcodes[d], lengths[nlit + d])
                pos = _put(dst, pos, dist - DIST_BASE[d], DIST_EXTRA[d])
                p += length
                m += 1
            else:
                c = content[p]
                if lengths[c] == 0:
                    return -1
                pos = _put(dst, pos, lcodes[c], lengths[c])
                p += 1
        if p != end:
            return -1
        if lengths[256] == 0:
            return -1
        pos = _put(dst, pos, lcodes[256], lengths[256])
    pad = (8 - (pos & 7)) & 7
    pos = _put(dst, pos, end_pad, pad)
    return pos >> 3


@njit(cache=True, nogil=True, inline="always")
def _reference_at(p, r, rpos, rlen):
    """The reference parse at position p, from its match index r (moved past the matches
    that end at or before p): (r, 1) a match starts at p (match r), (r, 0) the reference
    has a literal at p, (r, -1) p lies inside a match (no token starts there)."""
    nr = rpos.shape[0]
    while r < nr and rpos[r] + rlen[r] <= p:
        r += 1
    if r < nr and rpos[r] == p:
        return r, 1
    if r < nr and rpos[r] < p:
        return r, -1
    return r, 0


@njit(cache=True, nogil=True)
def diff(n, opos, olen, odist, rpos, rlen, rdist, epos, elen, edist):
    """The tokens of the original (matches opos/olen/odist, literals elsewhere) that the
    reference parse (rpos/rlen/rdist) does not have at the same position, into
    epos/elen/edist (a literal is length 1, distance 0). Returns how many."""
    p = 0
    o = 0
    r = 0
    e = 0
    while p < n:
        if o < opos.shape[0] and opos[o] == p:
            length = olen[o]
            dist = odist[o]
            o += 1
        else:
            length = 1
            dist = 0
        r, at = _reference_at(p, r, rpos, rlen)
        if at == 1:
            same = rlen[r] == length and rdist[r] == dist
        else:
            same = at == 0 and length == 1
        if not same:
            if e >= epos.shape[0]:
                return -1
            epos[e] = p
            elen[e] = length
            edist[e] = dist
            e += 1
        p += length
    return e


@njit(cache=True, nogil=True)
def patch(n, rpos, rlen, rdist, epos, elen, edist, mpos, mlen, mdist):
    """The original's matches from the reference parse and the differences `diff` found,
    into mpos/mlen/mdist. Returns how many, or -1 when they do not fit together."""
    p = 0
    r = 0
    e = 0
    m = 0
    ne = epos.shape[0]
    while p < n:
        r, at = _reference_at(p, r, rpos, rlen)
        if e < ne and epos[e] == p:
            length = elen[e]
            dist = edist[e]
            e += 1
        elif at == 1:
            length = rlen[r]
            dist = rdist[r]
        elif at == -1:
            return -1
        else:
            length = 1
            dist = 0
        if p + length > n or length != 1 and (length < 3 or length > 258 or dist < 1
                                                or dist > p or dist > 32768):
            return -1
        if length > 1:
            if m >= mpos.shape[0]:
                return -1
            mpos[m] = p
            mlen[m] = length
            mdist[m] = dist
            m += 1
        p += length
    if e != ne:
        return -1
    return m
