"""Deflate streams re-created bit for bit from their content (gzip, zlib, zip, PDF, PNG).

A deflate stream is its content plus the encoder's choices: which repeats it coded as
back-references (the tokens), where it ended its blocks and which Huffman codes it gave
them. A model compresses the content; a *recipe* keeps the choices, so that
`rebuild(content, recipe)` gives the stream back exactly:

- when zlib itself makes the stream (some level, window, memLevel and strategy), the
  recipe is those four numbers (`find_zlib_params`, also used by the PNG path);
- otherwise the recipe names the zlib level whose tokens come closest and lists only the
  tokens where the stream differs from them, with each block's end, type, padding bits
  and dynamic header bits as they were. GNU gzip -9 picks exactly the tokens of zlib -9
  and ends its blocks elsewhere: its recipe is about 90 bytes per block of ~100 KB.

`make_recipe` returns a recipe only after rebuilding the stream from it and comparing.
Rebuilding needs a zlib that deflates as the writer's did (Mark Adler's zlib 1.2/1.3 all
do; zlib-ng does not): a mismatch is caught by the stream's CRC-32 and reported.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

import numpy as np

from . import deflate_kernels as K

# zlib settings tried when re-creating a stream: (level, memLevel, strategy), most
# common first (level 6 is zlib's default, 9 the usual "best")
ZLIB_TRIALS = [(level, mem, strategy) for level in (6, 9, 1, 2, 3, 4, 5, 7, 8, 0)
               for mem in (8, 9) for strategy in (zlib.Z_DEFAULT_STRATEGY, zlib.Z_FILTERED)]
REFERENCE_LEVELS = (9, 6, 8, 7, 5, 4, 3, 2, 1, 0)  # references for the token difference
GOOD_ENOUGH = 0.001  # stop searching once under 0.1 % of the tokens differ
RECIPE_VERSION = 1
EXACT, TOKENS = 1, 2  # recipe kinds
_HEAD = struct.Struct("<BBBbBB")  # version, kind, level, wbits, memLevel, strategy
_TOKENS = struct.Struct("<IIIIB")  # content length, blocks, header bytes, differences, pad


def deflate(data: bytes, params: tuple[int, int, int, int]) -> bytes:
    """zlib's deflate of `data` with (level, wbits, memLevel, strategy), in one call."""
    level, wbits, mem, strategy = params
    obj = zlib.compressobj(level, zlib.DEFLATED, wbits, mem, strategy)
    return obj.compress(data) + obj.flush()


def find_zlib_params(raw: bytes, target: bytes, wbits: int) -> tuple[int, int, int, int] | None:
    """zlib settings that make `target` from `raw` exactly, window `wbits` (negative: raw
    deflate, as zlib's convention). Each trial stops at its first differing chunk (level 0,
    whose stored blocks depend on how the input arrives, is compared whole)."""
    for level, mem, strategy in ZLIB_TRIALS:
        if level == 0:
            if deflate(raw, (0, wbits, mem, strategy)) == target:
                return 0, wbits, mem, strategy
            continue
        obj = zlib.compressobj(level, zlib.DEFLATED, wbits, mem, strategy)
        out, ok = bytearray(), True
        for start in range(0, len(raw), 1 << 16):
            out += obj.compress(raw[start:start + (1 << 16)])
            if out != target[:len(out)]:
                ok = False
                break
        params = (level, wbits, mem, strategy)
        if ok and out + obj.flush() == target and deflate(raw, params) == target:
            return params
    return None


@dataclass
class Parsed:
    """A raw deflate stream's structure (see deflate_kernels)."""

    content: np.ndarray  # uint8
    mpos: np.ndarray  # int32 match positions, lengths, distances
    mlen: np.ndarray
    mdist: np.ndarray
    blocks: np.ndarray  # int64 (n, B_COLUMNS); head starts index `heads`
    heads: np.ndarray  # uint8: the dynamic headers' bits
    end_pad: int
    used: int  # bytes of the input the stream took


def parse(stream: bytes | memoryview, size: int) -> Parsed | None:
    """The structure of the raw deflate stream at the start of `stream`, whose content is
    `size` bytes (known from zlib already); None if it is not a valid stream."""
    src = np.frombuffer(stream, dtype=np.uint8)
    out = np.zeros(size, dtype=np.uint8)
    cap = size // 3 + 1
    mpos, mlen, mdist = (np.zeros(cap, dtype=np.int32) for _ in range(3))
    rows = len(src) // 256 + 64
    while True:
        blocks = np.zeros((rows, K.B_COLUMNS), dtype=np.int64)
        status, bits, n, nm, nb = K.parse(src, out, mpos, mlen, mdist, blocks)
        if status != K.TABLE_FULL or rows > len(src):
            break
        rows = 8 * len(src) // 10 + 2  # a block takes at least 10 bits
    if status != K.OK or n != size:
        return None
    blocks = blocks[:nb]
    # the dynamic headers' bits, gathered into one bit string the block table points into
    pieces, at = [np.zeros(0, dtype=np.uint8)], 0
    for row in blocks:
        count, start = int(row[K.B_HEAD_BITS]), int(row[K.B_HEAD_START])
        if count:
            bits_of = np.unpackbits(src[start // 8:(start + count + 7) // 8 + 1],
                                    bitorder="little")
            pieces.append(bits_of[start % 8:start % 8 + count])
        row[K.B_HEAD_START] = at
        at += count
    heads = np.packbits(np.concatenate(pieces), bitorder="little")
    pad = (8 - bits % 8) % 8
    end_pad = (int(src[bits >> 3]) >> (bits & 7)) & ((1 << pad) - 1) if pad else 0
    return Parsed(out, mpos[:nm], mlen[:nm], mdist[:nm], blocks, heads, end_pad,
                  (bits + 7) // 8)


def write(p: Parsed) -> bytes:
    """The deflate stream of a parsed structure, bit for bit."""
    # at most 16 bits a byte of content (a 15-bit literal code; a 3-byte match's 48 bits)
    dst = np.zeros(2 * len(p.content) + len(p.heads) + 8 * len(p.blocks) + 64, dtype=np.uint8)
    n = K.write(p.content, p.mpos, p.mlen, p.mdist, p.blocks, p.heads, p.end_pad, dst)
    if n < 0:
        raise ValueError("deflate structure does not fit together")
    return dst[:n].tobytes()


def _reference(content: bytes, level: int, wbits: int) -> Parsed:
    ref = deflate(content, (level, -abs(wbits), 8, zlib.Z_DEFAULT_STRATEGY))
    parsed = parse(ref, len(content))
    assert parsed is not None  # zlib's own output is a valid stream
    return parsed


def make_recipe(stream: bytes | memoryview, content: bytes, wbits: int = -15) -> bytes | None:
    """A recipe that rebuilds `stream` (raw deflate, exactly its bytes) from `content`, or
    None when none is found (or the stream is not valid deflate of that content)."""
    params = find_zlib_params(content, bytes(stream), -abs(wbits))
    if params is not None:
        level, bits, mem, strategy = params
        return _HEAD.pack(RECIPE_VERSION, EXACT, level, bits, mem, strategy)
    original = parse(stream, len(content))
    if original is None or original.used != len(stream):
        return None
    n = len(content)
    best = None
    for level in REFERENCE_LEVELS:
        ref = _reference(content, level, wbits)
        cap = len(original.mpos) + n - int(original.mlen.sum()) + 1  # all its tokens
        epos, elen, edist = (np.zeros(cap, dtype=np.int32) for _ in range(3))
        count = K.diff(n, original.mpos, original.mlen, original.mdist,
                       ref.mpos, ref.mlen, ref.mdist, epos, elen, edist)
        assert count >= 0  # the arrays hold every token of the original
        if best is None or count < best[1]:
            best = (level, count, epos[:count], elen[:count], edist[:count])
        if count <= GOOD_ENOUGH * (len(original.mpos) + 1):
            break
    level, count, epos, elen, edist = best
    head = _HEAD.pack(RECIPE_VERSION, TOKENS, level, -abs(wbits), 8, zlib.Z_DEFAULT_STRATEGY)
    blocks = original.blocks.astype(np.int64)
    gaps = np.diff(np.concatenate([[0], epos.astype(np.int64)]))
    recipe = b"".join([
        head, _TOKENS.pack(n, len(blocks), len(original.heads), count, original.end_pad),
        blocks.astype("<i8").tobytes(), original.heads.tobytes(),
        gaps.astype("<u4").tobytes(), elen.astype("<u2").tobytes(),
        edist.astype("<u2").tobytes()])
    try:
        if rebuild(content, recipe) != bytes(stream):
            return None
    except ValueError:
        return None
    return recipe


def rebuild(content: bytes, recipe: bytes) -> bytes:
    """The deflate stream a recipe describes (ValueError for a malformed recipe)."""
    try:
        version, kind, level, wbits, mem, strategy = _HEAD.unpack_from(recipe)
    except struct.error:
        raise ValueError("deflate recipe too short") from None
    if version != RECIPE_VERSION or kind not in (EXACT, TOKENS):
        raise ValueError(f"unknown deflate recipe (version {version}, kind {kind})")
    if kind == EXACT:
        try:
            return deflate(content, (level, wbits, mem, strategy))
        except (zlib.error, ValueError) as exc:
            raise ValueError(f"bad zlib settings in a deflate recipe ({exc})") from None
    at = _HEAD.size
    try:
        n, nb, nheads, count, end_pad = _TOKENS.unpack_from(recipe, at)
    except struct.error:
        raise ValueError("deflate recipe too short") from None
    at += _TOKENS.size
    sizes = [8 * K.B_COLUMNS * nb, nheads, 4 * count, 2 * count, 2 * count]
    if n != len(content) or at + sum(sizes) != len(recipe) or not 0 <= level <= 9:
        raise ValueError("deflate recipe does not match its content")
    parts = []
    for size in sizes:
        parts.append(recipe[at:at + size])
        at += size
    blocks = np.frombuffer(parts[0], dtype="<i8").reshape(nb, K.B_COLUMNS).astype(np.int64)
    heads = np.frombuffer(parts[1], dtype=np.uint8)
    epos = np.cumsum(np.frombuffer(parts[2], dtype="<u4").astype(np.int64)).astype(np.int32)
    elen = np.frombuffer(parts[3], dtype="<u2").astype(np.int32)
    edist = np.frombuffer(parts[4], dtype="<u2").astype(np.int32)
    _check_blocks(blocks, n, len(heads))
    ref = _reference(content, level, wbits)
    cap = len(ref.mpos) + count + 1
    mpos, mlen, mdist = (np.zeros(cap, dtype=np.int32) for _ in range(3))
    m = K.patch(n, ref.mpos, ref.mlen, ref.mdist, epos, elen, edist, mpos, mlen, mdist)
    if m < 0:
        raise ValueError("deflate recipe does not fit its content")
    return write(Parsed(np.frombuffer(content, dtype=np.uint8), mpos[:m], mlen[:m],
                        mdist[:m], blocks, heads, end_pad, 0))


def _check_blocks(blocks: np.ndarray, n: int, head_bytes: int) -> None:
    """Refuse a block table the writer could not follow (damaged side data)."""
    if not len(blocks):
        raise ValueError("deflate recipe without blocks")
    ends = blocks[:, K.B_END]
    types = blocks[:, K.B_TYPE]
    starts = blocks[:, K.B_HEAD_START]
    bits = blocks[:, K.B_HEAD_BITS]
    if (np.any(np.diff(ends) < 0) or ends[-1] != n or ends[0] < 0 or np.any(types < 0)
            or np.any(types > 2) or np.any(blocks[:, K.B_FINAL] < 0)
            or np.any(blocks[:, K.B_FINAL] > 1) or np.any(blocks[:, K.B_PAD] < 0)
            or np.any(blocks[:, K.B_PAD] > 127) or np.any(starts < 0) or np.any(bits < 0)
            or np.any(starts + bits > 8 * head_bytes) or np.any((types == 2) & (bits < 14))):
        raise ValueError("deflate recipe with a damaged block table")
