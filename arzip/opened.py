"""Files with deflate streams inside, opened: the content goes to the model, not the
deflate bits (a .tar.gz, a .gz log, a .zip/.docx/.xlsx, a PDF's flate streams).

`open_streams(data)` finds the deflate streams of a file that `deflate.make_recipe` can
re-create and whose content is worth modelling; `split` turns the file into *side data*
(where each stream was and its recipe) and the *opened stream*: the file with every such
stream replaced by its content. `Joiner` turns the opened stream back into the file,
piece by piece, checking each re-created stream's CRC-32. Pure bytes; no model here.

A stream's content of a kind a structured codec models (an image, a WAV) is put in the
opened stream as a complete inner .arz made by that codec (`Stream.coded`; flag 1), which
the caller's `decode_inner` turns back into the content.

Side data layout (little-endian): b"ARZD" | version u8 | count u32, then per stream
gap u64 (bytes since the previous stream's end) | stream_len u64 | size u64 (of its piece
of the opened stream) | crc32 u32 (of the stream's bytes) | recipe_len u32 | flags u8 |
recipe.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from . import deflate
from .registry import SNIFF_BYTES, STRUCTURED, detect

SIDE_MAGIC, SIDE_VERSION = b"ARZD", 1
MIN_CONTENT = 256  # smaller streams are not worth a recipe
MAX_CONTENT = 1 << 26  # a stream inflating to more is left as it is (inflation bombs)
MAX_TOTAL = 1 << 28  # all opened content of one file together
MAX_RATIO = 0.9  # open a stream only if deflate shrank its content (else it is noise),
# or if a structured codec may take the content (deflate is a poor judge of images, audio)
MAX_RECIPE = 0.25  # ... and its recipe is under a quarter of the stream's size
_HEAD = struct.Struct("<4sBI")
_ENTRY = struct.Struct("<QQQIIB")
INNER = 1  # flag: the piece is an inner .arz of the content


@dataclass
class Stream:
    """One opened deflate stream of a file."""

    start: int  # where its deflate bytes begin in the file
    length: int  # how many bytes they take
    content: bytes
    recipe: bytes
    kind: str  # "gzip", "zlib" or "zip" (what announced it)
    coded: bytes | None = None  # the content as an inner .arz (structured kinds)

    @property
    def piece(self) -> bytes:
        """What stands for the stream in the opened stream."""
        return self.content if self.coded is None else self.coded


def _gzip_start(data, o: int) -> int | None:
    """Where the deflate data of a gzip member whose header starts at o begins."""
    flags = data[o + 3]
    if flags & 0xE0:
        return None
    at = o + 10
    try:
        if flags & 4:  # FEXTRA
            at += 2 + (data[at] | data[at + 1] << 8)
        for bit in (8, 16):  # FNAME, FCOMMENT: zero-terminated
            if flags & bit:
                while data[at] != 0:
                    at += 1
                at += 1
        if flags & 2:  # FHCRC
            at += 2
    except IndexError:
        return None
    return at if at < len(data) else None


def _zip_start(data, o: int) -> int | None:
    """Where the deflate data of a zip entry whose local header starts at o begins."""
    if o + 30 > len(data):
        return None
    flags, method = struct.unpack_from("<HH", data, o + 6)
    if method != 8 or flags & 1:  # deflate, not encrypted
        return None
    name, extra = struct.unpack_from("<HH", data, o + 26)
    return o + 30 + name + extra


def candidates(data, window: int = 1 << 24) -> Iterator[tuple[int, str]]:
    """(deflate start, kind) of every place a deflate stream may begin: after a gzip member
    header, a zip local header, a zlib header (32 KiB window; the only window searched);
    searched a window at a time (bounded memory), in order within each window."""
    size = len(data)
    for base in range(0, max(size - 3, 0), window):
        b = np.frombuffer(data, dtype=np.uint8, count=min(window + 3, size - base),
                          offset=base)
        a0, a1, a2, a3 = b[:-3], b[1:-2], b[2:-1], b[3:]
        headers = [("gzip", (a0 == 0x1F) & (a1 == 0x8B) & (a2 == 8), _gzip_start),
                   ("zip", (a0 == 0x50) & (a1 == 0x4B) & (a2 == 3) & (a3 == 4), _zip_start),
                   ("zlib", (a0 == 0x78) & ((0x7800 + a1.astype(np.int32)) % 31 == 0)
                    & ((a1 & 0x20) == 0), lambda _, o: o + 2)]
        found: list[tuple[int, str]] = []
        for kind, hits, start_of in headers:
            for o in (base + np.flatnonzero(hits)).tolist():
                start = start_of(data, o)
                if start is not None:
                    found.append((start, kind))
        yield from sorted(found)


def _inflate(data, start: int, limit: int) -> tuple[bytes, int] | None:
    """(content, stream length) of the raw deflate stream at `start`, if it is a complete
    stream inflating to at most `limit` bytes (checked before more is held)."""
    obj = zlib.decompressobj(-15)
    out, at, step = [], start, 1 << 16
    size = 0
    try:
        while not obj.eof and at < len(data):
            chunk = data[at:at + step]
            at += len(chunk)
            piece = obj.decompress(chunk, limit + 1 - size)
            size += len(piece)
            out.append(piece)
            if size > limit or obj.unconsumed_tail:
                return None
    except zlib.error:
        return None
    if not obj.eof:
        return None
    return b"".join(out), at - start - len(obj.unused_data)


def open_streams(data, limit: int = MAX_TOTAL,
                 inner: Callable[[bytes], bytes | None] | None = None) -> list[Stream]:
    """The deflate streams of `data` worth opening, in order, not overlapping. `inner`
    codes a content a structured codec may take (an image, a WAV) as an inner archive
    (None: that codec does not take it); such a stream is opened only if its inner archive
    and recipe are smaller than the stream, any other only if deflate shrank its content
    below MAX_RATIO."""
    streams: list[Stream] = []
    end, total = 0, 0
    for start, kind in candidates(data):
        if start < end:
            continue
        got = _inflate(data, start, min(MAX_CONTENT, limit - total))
        if got is None:
            continue
        content, length = got
        shrank = length <= MAX_RATIO * len(content)
        structured = structured_content(content)
        if len(content) < MIN_CONTENT or not (shrank or structured):
            continue
        stream = bytes(data[start:start + length])
        recipe = deflate.make_recipe(stream, content)
        if recipe is None or len(recipe) > MAX_RECIPE * length:
            continue
        coded = inner(content) if inner is not None and structured else None
        worth = shrank if coded is None else len(coded) + len(recipe) < length
        if not worth:
            continue
        streams.append(Stream(start, length, content, recipe, kind, coded))
        end, total = start + length, total + len(content)
    return streams


def structured_content(content: bytes) -> bool:
    """Whether a structured codec (image, audio) may take this content."""
    return detect(content[:SNIFF_BYTES]) in STRUCTURED


def side_data(data, streams: list[Stream]) -> bytes:
    """The side data that, with the opened stream, gives `data` back."""
    parts, at = [_HEAD.pack(SIDE_MAGIC, SIDE_VERSION, len(streams))], 0
    for s in streams:
        crc = zlib.crc32(data[s.start:s.start + s.length])
        parts.append(_ENTRY.pack(s.start - at, s.length, len(s.piece), crc, len(s.recipe),
                                 0 if s.coded is None else INNER))
        parts.append(s.recipe)
        at = s.start + s.length
    return b"".join(parts)


def pieces(data, streams: list[Stream]) -> Iterator[bytes | memoryview]:
    """The opened stream: `data` with each stream replaced by its content."""
    view, at = memoryview(data), 0
    for s in streams:
        yield view[at:s.start]
        yield s.piece
        at = s.start + s.length
    yield view[at:]


@dataclass
class _Entry:
    gap: int
    length: int
    size: int
    crc: int
    recipe: bytes
    flags: int


def read_side(side: bytes) -> list[_Entry]:
    """The entries of side data (ValueError when it is damaged)."""
    try:
        magic, version, count = _HEAD.unpack_from(side)
    except struct.error:
        raise ValueError("opened-stream side data too short") from None
    if magic != SIDE_MAGIC or version != SIDE_VERSION:
        raise ValueError(f"unknown opened-stream side data (version {version})")
    entries, at = [], _HEAD.size
    for _ in range(count):
        try:
            gap, length, size, crc, recipe_len, flags = _ENTRY.unpack_from(side, at)
        except struct.error:
            raise ValueError("opened-stream side data too short") from None
        at += _ENTRY.size
        if not 0 < size <= MAX_CONTENT or recipe_len > len(side) - at or flags > INNER:
            raise ValueError("opened-stream side data damaged")
        entries.append(_Entry(gap, length, size, crc, side[at:at + recipe_len], flags))
        at += recipe_len
    if at != len(side):
        raise ValueError("opened-stream side data damaged")
    return entries


class Joiner:
    """The opened stream in (any piece sizes), the original file out."""

    def __init__(self, side: bytes,
                 decode_inner: Callable[[bytes], bytes] | None = None) -> None:
        self.entries = read_side(side)
        self.decode_inner = decode_inner
        self.index = 0  # the entry being restored
        self.gap_left = self.entries[0].gap if self.entries else 0
        self.held: list[bytes] = []
        self.held_size = 0

    def feed(self, data: bytes) -> Iterator[bytes]:
        """Original bytes for the next piece of the opened stream."""
        view = memoryview(data)
        while len(view):
            if self.index == len(self.entries):  # the tail after the last stream
                yield bytes(view)
                return
            if self.gap_left:
                take = min(self.gap_left, len(view))
                yield bytes(view[:take])
                view, self.gap_left = view[take:], self.gap_left - take
                continue
            entry = self.entries[self.index]
            take = min(entry.size - self.held_size, len(view))
            self.held.append(bytes(view[:take]))
            self.held_size += take
            view = view[take:]
            if self.held_size == entry.size:
                yield self._restore(entry)

    def _restore(self, entry: _Entry) -> bytes:
        content = b"".join(self.held)
        self.held, self.held_size = [], 0
        if entry.flags & INNER:
            if self.decode_inner is None:
                raise ValueError("an inner archive needs a decoder")
            content = self.decode_inner(content)
        stream = deflate.rebuild(content, entry.recipe)
        if len(stream) != entry.length or zlib.crc32(stream) != entry.crc:
            raise ValueError(f"deflate stream {self.index} was not re-created exactly "
                             f"(this machine's zlib {zlib.ZLIB_RUNTIME_VERSION} may deflate "
                             "differently from the writer's)")
        self.index += 1
        if self.index < len(self.entries):
            self.gap_left = self.entries[self.index].gap
        return stream

    def finish(self) -> None:
        """Raise ValueError if the opened stream ended before every stream was restored."""
        if self.index < len(self.entries):
            raise ValueError("opened stream ended before its last deflate stream")
