"""Compress and decompress streams: blocks, classical fallback, checksums.

This module ties the container, the zoo and a codec together; it does no maths of its own
and knows no modality. Every block is coded by the model and also by zlib and lzma; the
smallest encoding is stored, so output never exceeds the input by more than the framing.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import lzma
import mmap
import os
import shutil
import stat
import tempfile
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO

import numpy as np

from . import __version__, container, opened, parallel, signals, zoo
from .container import FORMAT_VERSION, MODEL_METHODS, Block, End, Header, Method
from .errors import FormatError, IntegrityError, ModelError
from .parallel import one_blas_thread
from .registry import (
    SNIFF_BYTES,
    STRUCTURED,
    check_codec,
    codec_class,
    codec_module,
    compressed_format,
    detect,
)

BLOCK_SIZE = 1 << 20
MAX_BLOCK_SIZE = 1 << 24  # a reader refuses larger blocks (bounded memory)
MAX_SIDE_SIZE = 1 << 28  # side data of a structured file (e.g. the alpha plane)
SPOOL_SIZE = 1 << 25  # coded blocks of a structured file beyond this wait in a temp file
WHOLE_BESIDE = 1 << 24  # a whole-file classical coding of at most this many symbols runs
# beside the model (an image up to 5.6 megapixels: its WebP encoder's memory is small)
MIN_SPLIT = 1 << 16  # blocks shorter than this do not end at an opened stream's end
OPEN_PIPE_LIMIT = 1 << 26  # piped input up to this size is searched for deflate streams
OPEN_FILE_LIMIT = 1 << 32  # ... and regular files up to this size
Progress = Callable[[int], None]


@dataclass(frozen=True)
class Effort:
    """What the encoder tries on each block (the CLI's -0 .. -9)."""

    network: bool = True  # the codec's network (the model)
    cm: bool = True  # binary context mixing without the network (bytes path)
    probe: bool = True  # a short model probe decides whether the network runs
    open_streams: bool = True  # deflate streams opened (bytes path)


CLASSICAL = Effort(network=False, cm=False, probe=False, open_streams=False)
LEVELS = {0: CLASSICAL, 1: Effort(network=False), 9: Effort(probe=False)}
DEFAULT = Effort()  # levels 2 .. 8


@dataclass
class Stats:
    """What a compression or decompression did (for -v, info and benchmarks)."""

    codec: str = ""
    model: str = ""
    raw_bytes: int = 0
    coded_bytes: int = 0
    model_bits: float = 0.0  # ideal bits of the model over the blocks it coded
    model_coded_bits: int = 0  # real payload bits of those blocks
    methods: dict = field(default_factory=dict)
    seconds: float = 0.0
    sha256: str = ""
    blocks: list = field(default_factory=list)  # decoding: each verified block's record
    decisions: list = field(default_factory=list)  # encoding: each block's method and why
    opened: list = field(default_factory=list)  # encoding: each deflate stream opened


def structured(codec_id: str) -> bool:
    """Whether a codec codes whole files (side data + model blocks) rather than blocks."""
    check_codec(codec_id)
    return codec_id in STRUCTURED


_LOADED: dict = {}  # a few ready codecs, so many files in one process load a model once
_LOADED_MAX = 4


def load_codec(codec_id: str, model: zoo.ModelInfo, coder: dict | None = None):
    """A ready codec object with the model's verified weights: a shallow copy of one kept
    for the next file (so many files in one process load a model once; a caller may set
    the copy's attributes, e.g. a block size, without touching the kept one)."""
    key = (codec_id, model.name, model.sha256, json.dumps(coder, sort_keys=True))
    if key not in _LOADED:
        if len(_LOADED) >= _LOADED_MAX:
            _LOADED.pop(next(iter(_LOADED)))
        with signals.held():  # building a model runs torch: never interrupted half-way
            _LOADED[key] = _load_codec(codec_id, model, coder)
    return copy.copy(_LOADED[key])


def _load_codec(codec_id: str, model: zoo.ModelInfo, coder: dict | None = None):
    cls = codec_class(codec_id)  # (a codec whose coding needs no torch reads arrays)
    exported = zoo.load_weights(model, arrays=getattr(cls, "weights_as_arrays", False))
    try:
        return cls.from_weights(exported, coder)
    except (TypeError, ValueError, KeyError) as exc:
        if coder is not None:
            raise FormatError(f"unsupported coder settings in the header ({exc})") from None
        raise ModelError(f"model {model.name} does not fit codec '{codec_id}' ({exc})") from None
    except RuntimeError as exc:  # state dict does not match the architecture
        raise ModelError(f"model {model.name} does not fit codec '{codec_id}' ({exc})") from None


def _classical(data: bytes) -> list[tuple[Method, bytes]]:
    return [(Method.STORED, data), (Method.ZLIB, zlib.compress(data, 9)), (Method.LZMA, xz(data))]


def xz(data: bytes) -> bytes:
    """xz -9e of `data` with a dictionary no larger than the data needs (at least 4 KiB):
    the same compression as the preset's 64 MiB dictionary, without its ~40 ms of set-up
    per call (a short file's side data, a small block)."""
    size = max(1 << 12, 1 << max(0, len(data) - 1).bit_length())
    return lzma.compress(data, filters=[{"id": lzma.FILTER_LZMA2, "dict_size": min(size, 1 << 26),
                                         "preset": 9 | lzma.PRESET_EXTREME}])


# Early decisions: a block the model cannot shrink should not cost the model's time.
INCOMPRESSIBLE_H0 = 7.8  # order-0 entropy (bits/byte) of random-looking data ...
INCOMPRESSIBLE_ZLIB = 0.99  # ... that zlib's fastest level cannot shrink by 1 %
PROBE_MIN = 1 << 16  # blocks shorter than this run the model without a probe
PROBE_SLICES, PROBE_SLICE = 8, 4096  # the probe codes 8 slices of 4 KiB spread over the block
PROBE_MARGIN = 1.25  # run the model unless the probe is 25 % above the best classical size
CM_SKIP = 0.85  # skip context mixing alone where the probe is 15 % below it on the sample
CM_SKIP_MIN_BITS = 1.0  # ... and context mixing alone needs at least 1 bit/byte there


def _network_clearly_better(sample: bytes | None, estimate: float) -> bool:
    """Whether the model probe (`estimate` bits/byte on `sample`) beats context mixing
    alone on the same sample by CM_SKIP: then the block's context mixing alone is not run
    (it would lose: on text it costs a sixth of the compression time)."""
    if sample is None or estimate == float("inf"):
        return False
    alone = codec_module("bytes", "cm").encode(sample)
    if alone is None or 8 * len(alone) < CM_SKIP_MIN_BITS * len(sample):
        return False  # very redundant data: one lane's long matches may still win
    return estimate <= CM_SKIP * 8 * len(alone) / len(sample)


def incompressible(data: bytes) -> bool:
    """Random-looking data (encrypted, already compressed: JPEG, zip, video): a flat byte
    histogram and nothing zlib's fastest level finds (about 40 MB/s here)."""
    if len(data) < 4096:
        return False
    counts = np.bincount(np.frombuffer(data, dtype=np.uint8), minlength=256)
    p = counts[counts > 0] / len(data)
    if float(-(p * np.log2(p)).sum()) < INCOMPRESSIBLE_H0:  # a decision, not a probability
        return False
    return len(zlib.compress(data, 1)) >= INCOMPRESSIBLE_ZLIB * len(data)


def probe_sample(data: bytes) -> bytes | None:
    """The slices of a block the model probe codes (None: code the block without a probe)."""
    if len(data) < PROBE_MIN:
        return None
    step = (len(data) - PROBE_SLICE) // (PROBE_SLICES - 1)
    return b"".join(data[i * step:i * step + PROBE_SLICE] for i in range(PROBE_SLICES))


def _read_block(src: BinaryIO, size: int) -> bytes:
    chunks, want = [], size
    while want:
        chunk = src.read(want)
        if not chunk:
            break
        chunks.append(chunk)
        want -= len(chunk)
    return b"".join(chunks)


class _Prefixed:
    """A reader that first returns `head` (bytes already sniffed), then the rest of `src`."""

    def __init__(self, head: bytes, src: BinaryIO) -> None:
        self.head, self.src = head, src

    def read(self, size: int = -1) -> bytes:
        if not self.head:
            return self.src.read(size)
        if size < 0:
            out, self.head = self.head + self.src.read(), b""
            return out
        out, self.head = self.head[:size], self.head[size:]
        return out


@one_blas_thread()
def compress_stream(src: BinaryIO, dst: BinaryIO, model_spec: str | None = None,
                    codec_id: str | None = None, progress: Progress | None = None,
                    block_size: int = BLOCK_SIZE, classical_fallback: bool = True,
                    use_model: bool = True, effort: Effort | None = None) -> Stats:
    """Compress all of `src` into `dst` as an .arz stream.

    The codec is the model's when one is given, else `codec_id`, else detected from the
    first bytes. A file that a structured codec (images) cannot represent, or codes larger
    than the file itself, is stored with the classical methods of the bytes path instead
    (`classical_fallback=False` keeps the model's coding of a representable file: for tests
    and for measuring the model). `effort` says what is tried (`LEVELS`); `use_model=False`
    is level 0: every block with the classical methods only (fast; no model is loaded).
    """
    effort = effort or (DEFAULT if use_model else CLASSICAL)
    model = zoo.find_model(model_spec) if model_spec else None
    head = _read_block(src, SNIFF_BYTES)
    if effort == CLASSICAL:
        return _compress_blocks(_Prefixed(head, src), dst, zoo.default_model("bytes"), progress,
                                block_size, CLASSICAL)
    kind = model.codec if model else codec_id or detect(head)
    if not structured(kind) or not effort.network:
        data, reader = _searchable(head, src) if effort.open_streams else (None, _Prefixed(
            head, src))
        known = compressed_format(head)
        return _compress_bytes(data, reader, dst, model if model and not structured(kind)
                               else zoo.default_model("bytes"), progress, block_size,
                               CLASSICAL if known else effort,
                               why=f"{known} data, already compressed" if known else "")
    data = _whole_input(head, src)
    stats = _compress_file(data, dst, kind, model, progress, classical_fallback)
    if stats is None:
        # a file of this kind that the codec cannot (or should not) code is stored with
        # classical methods; a file whose magic bytes matched by chance gets the bytes codec
        stats = _compress_bytes(data, io.BytesIO(memoryview(data)), dst,
                                zoo.default_model("bytes"), progress, block_size,
                                CLASSICAL if codec_class(kind).known_format(data) else effort)
    return stats


def _mapped(head: bytes, src: BinaryIO, limit: int | None = None) -> mmap.mmap | None:
    """A read-only memory map of all of `src` when it is a regular file (of at most `limit`
    bytes) read exactly as far as `head`; else None (a pipe)."""
    try:
        fd = src.fileno()
        info = os.fstat(fd)
        if (stat.S_ISREG(info.st_mode) and len(head) < info.st_size
                and (limit is None or info.st_size <= limit) and src.tell() == len(head)):
            return mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        pass
    return None


def _searchable(head: bytes, src: BinaryIO) -> tuple[bytes | mmap.mmap | None, BinaryIO]:
    """(all of the input, if it may be searched for deflate streams; a reader of it)."""
    data = _mapped(head, src, OPEN_FILE_LIMIT)
    if data is not None:
        return data, _Prefixed(head, src)
    data = head + _read_block(src, OPEN_PIPE_LIMIT)
    if len(data) <= OPEN_PIPE_LIMIT:
        return data, io.BytesIO(data)
    return None, _Prefixed(data, src)


def _compress_bytes(data: bytes | mmap.mmap | None, reader: BinaryIO, dst: BinaryIO,
                    model: zoo.ModelInfo, progress: Progress | None, block_size: int,
                    effort: Effort = DEFAULT, why: str = "") -> Stats:
    """The bytes path of `reader`, with the deflate streams of `data` (all of the input, or
    None when it is not searched) opened when it has any worth it."""
    streams = (opened.open_streams(data, inner=_inner_archive if effort.network else None)
               if data is not None else [])
    if not streams:
        return _compress_blocks(reader, dst, model, progress, block_size, effort, why=why)
    side = opened.side_data(data, streams)
    pieces = _Pieces(opened.pieces(data, streams))
    size = len(data) - sum(s.length for s in streams) + sum(len(s.piece) for s in streams)
    scaled = (lambda k: progress(k * len(data) // max(size, 1))) if progress else None
    ends, at, prev = [], 0, 0  # where each stream's piece ends in the opened stream
    for s in streams:
        at += s.start - prev + len(s.piece)
        ends.append(at)
        prev = s.start + s.length
    stats = _compress_blocks(pieces, dst, model, scaled, block_size, effort,
                             side=side, original=(len(data), hashlib.sha256(data).digest()),
                             ends=ends, why=why)
    stats.opened = [f"{s.kind} stream at byte {s.start}: {s.length} -> {len(s.content)} "
                    f"bytes (recipe {len(s.recipe)} bytes"
                    + (f"; {detect(s.content[:SNIFF_BYTES])} codec: {len(s.coded)} bytes)"
                       if s.coded is not None else ")") for s in streams]
    return stats


def _inner_archive(content: bytes) -> bytes | None:
    """An opened stream's content (an image, a WAV) as a complete .arz of its structured
    codec, or None when that codec does not take it."""
    out = io.BytesIO()
    stats = compress_stream(io.BytesIO(content), out)
    return out.getvalue() if structured(stats.codec) else None


def _decode_inner(blob: bytes) -> bytes:
    """The content of an inner .arz (at most opened.MAX_CONTENT bytes)."""
    parts, size = [], 0

    def write(piece: bytes) -> None:
        nonlocal size
        size += len(piece)
        if size > opened.MAX_CONTENT:
            raise FormatError("an inner archive is larger than an opened stream may be")
        parts.append(piece)

    decompress_stream(io.BytesIO(blob), write)
    return b"".join(parts)


class _Pieces:
    """A reader over an iterator of byte pieces."""

    def __init__(self, pieces) -> None:
        self.pieces, self.buffer = iter(pieces), b""

    def read(self, size: int = -1) -> bytes:
        parts, have = [self.buffer], len(self.buffer)
        while size < 0 or have < size:
            piece = next(self.pieces, None)
            if piece is None:
                break
            parts.append(bytes(piece))
            have += len(piece)
        data = b"".join(parts)
        if size < 0:
            self.buffer = b""
            return data
        self.buffer = data[size:]
        return data[:size]


def _whole_input(head: bytes, src: BinaryIO) -> bytes | mmap.mmap:
    """All of a structured file: a read-only memory map of a regular file (its pages come
    from the page cache and leave it again, so an hour of audio does not fill the memory),
    else (a pipe) the bytes read."""
    data = _mapped(head, src)
    return data if data is not None else head + src.read()


def _compress_file(data: bytes, dst: BinaryIO, codec_id: str, model: zoo.ModelInfo | None,
                   progress: Progress | None, classical_fallback: bool) -> Stats | None:
    """The structured path: side data + model-coded blocks; None if not worth it."""
    start = time.perf_counter()
    parsed = codec_class(codec_id).analyze(data)
    if parsed is None:
        return None
    model = model or zoo.default_model(codec_id)
    codec = load_codec(codec_id, model)
    if hasattr(codec, "for_file"):  # settings chosen per file (the audio lanes' length)
        codec = codec.for_file(parsed.info)
    header = Header(codec=codec_id, model=model.header_entry, coder=codec.coder_settings(),
                    codec_header=parsed.info)
    stats = Stats(codec=codec_id, model=model.name, raw_bytes=len(parsed.output))
    parts = [container.pack_header(header), _side_block(parsed.side, omit_empty=True)]
    sides = {"side": 1} if parts[1] else {}  # no side-data record: nothing to count
    stats.methods = sides | {"model": 0}
    total = max(1, parsed.symbols.size)
    classical = getattr(codec, "classical", None)
    # a whole-file classical coding (an image's WebP), stored instead of all the blocks
    # when it is smaller: (method, payload), or None; beside the model's blocks unless the
    # file is large (its memory would add to the model's)
    whole, wants_whole = parallel.done(None), (classical_fallback
                                               and hasattr(codec, "classical_file"))
    if wants_whole:
        whole = (parallel.beside(codec.classical_file, parsed.symbols)
                 if parsed.symbols.size <= WHOLE_BESIDE
                 else parallel.done(codec.classical_file(parsed.symbols)))
    raw_crc, raw_len = 0, 0
    with tempfile.SpooledTemporaryFile(SPOOL_SIZE) as spool:  # bounded memory
        for part in parts:
            spool.write(part)
        for raw, payload, bits, *chosen in codec.encode(
                parsed.symbols, (lambda k: progress(len(data) * k // total)) if progress else None,
                info=parsed.info):  # (a codec may say which of its model's methods coded it)
            # the codec's classical coding, if it has one: where the model has no coding
            # (payload None), and where it is smaller (never worse than it) unless the
            # caller wants the model's blocks
            method, other = (classical(raw, parsed.info) if classical and (
                payload is None or classical_fallback) else (None, b""))
            if payload is None or (method is not None and len(other) < len(payload)):
                block = Block(method, len(raw), 0, container.crc32(raw), other)
            else:
                block = Block(chosen[0] if chosen else Method.MODEL, len(raw), 1,
                              container.crc32(raw), payload)
                stats.model_bits += bits
                stats.model_coded_bits += 8 * len(payload)
            name = block.method.name.lower()
            note = ""
            if method is not None and payload is not None:  # the side not taken
                note = (f" (model {len(payload)} bytes)" if block.method not in MODEL_METHODS
                        else f" ({method.name.lower()} {len(other)} bytes)")
            stats.decisions.append(f"{name} {len(block.payload)} bytes{note}")
            stats.methods[name] = stats.methods.get(name, 0) + 1
            spool.write(container.pack_block(block))
            if wants_whole:  # the whole file's CRC, should its block replace these
                raw_crc, raw_len = zlib.crc32(raw, raw_crc), raw_len + len(raw)
        whole = whole.result()
        if whole is not None and len(whole[1]) < spool.tell() - sum(map(len, parts)):
            spool.seek(0)
            spool.truncate()
            spool.write(b"".join(parts))
            spool.write(container.pack_block(Block(whole[0], raw_len, 0, raw_crc, whole[1])))
            name = whole[0].name.lower()
            stats.decisions = [f"{name} {len(whole[1])} bytes (all blocks: model "
                               f"{stats.model_coded_bits // 8:.0f} bytes)"]
            stats.methods = sides | {"model": 0, name: 1}
            stats.model_bits = stats.model_coded_bits = 0
        elif whole is not None:
            stats.decisions.append(f"(all blocks: {whole[0].name.lower()} would take "
                                   f"{len(whole[1])} bytes)")
        digest = hashlib.sha256(parsed.output).digest()
        spool.write(container.pack_end(End(len(parsed.output), digest)))
        stats.coded_bytes = spool.tell()
        if classical_fallback and stats.coded_bytes >= len(data):
            return None  # the classical path would store the file in fewer bytes
        spool.seek(0)
        shutil.copyfileobj(spool, dst)
    stats.sha256 = digest.hex()
    stats.seconds = time.perf_counter() - start
    return stats


def _side_block(side: bytes, omit_empty: bool = False) -> bytes:
    """The record of a file's side data (block 0): its smallest classical coding; none for
    a structured file without side data (`omit_empty`, format 11 on)."""
    if omit_empty and not side:
        return b""
    method, best = min(_classical(side), key=lambda c: len(c[1]))
    return container.pack_block(Block(method, len(side), 0, container.crc32(side), best))


def _compress_blocks(src: BinaryIO, dst: BinaryIO, model: zoo.ModelInfo,
                     progress: Progress | None, block_size: int, effort: Effort = DEFAULT,
                     side: bytes | None = None, original: tuple[int, bytes] | None = None,
                     ends: list[int] | None = None, why: str = "") -> Stats:
    """The streaming path: blocks of bytes, each coded by the model or classically.

    With `side` (opened deflate streams) the side data is block 0, the blocks code the
    opened stream and the trailer holds the `original` file's length and sha256. A block
    also ends at each offset of `ends` (an opened stream's end: a zip's entries are
    decided one by one) unless it would be shorter than MIN_SPLIT. `why` says why only the
    classical methods are used, in each block's decision."""
    start, codec_id = time.perf_counter(), model.codec
    try:  # a codec's settings module knows them without the model (and torch)
        settings = codec_module(codec_id, "settings").coder_settings()
    except ModuleNotFoundError:
        settings = load_codec(codec_id, model).coder_settings()
    header = Header(codec=codec_id, model=model.header_entry, coder=settings)
    if side is not None:
        header.codec_header = {"opened": "deflate", "streams": len(opened.read_side(side)),
                               "zlib": zlib.ZLIB_RUNTIME_VERSION}

    def codec():  # the model loads for the first block that runs it (load_codec keeps it)
        ready = load_codec(codec_id, model)
        if ready.coder_settings() != settings:
            raise ModelError(f"model {model.name}: coder settings differ from the header's")
        return ready

    stats = Stats(codec=codec_id, model=model.name)
    out = container.pack_header(header)
    if side is not None:
        out += _side_block(side)
        stats.methods["side"] = 1
    dst.write(out)
    stats.coded_bytes += len(out)
    digest = hashlib.sha256()
    ends = list(ends or [])
    while True:
        size = block_size
        while ends and ends[0] < stats.raw_bytes + MIN_SPLIT:
            ends.pop(0)
        if ends and ends[0] < stats.raw_bytes + block_size:
            size = ends.pop(0) - stats.raw_bytes
        data = _read_block(src, size)
        if not data and stats.raw_bytes:
            break
        done, lanes, bits = stats.raw_bytes, 0, 0.0
        if incompressible(data):
            classical = parallel.done([(Method.STORED, data)])
            decision = "stored: incompressible"
        else:  # xz and zlib release the GIL: they run beside the model's probe
            classical = parallel.beside(_classical, data)
            decision = f"classical: {why}" if why else ""
        candidates: list[tuple[Method, bytes]] = []  # the model's codings
        sample = (probe_sample(data) if effort.network and effort.probe and not decision
                  else None)
        estimate = float("inf")
        if sample is not None:
            coded = codec().encode_cm_block(sample)[1]  # None: larger than 1.5x the sample
            estimate = 8 * len(coded) / len(sample) if coded is not None else float("inf")
        if effort.cm and not decision and not _network_clearly_better(sample, estimate):
            payload = codec_module("bytes", "cm").encode(data)
            if payload is not None:  # None: it outgrew its buffer (worse than stored)
                candidates.append((Method.CM, payload))
        if sample is not None:
            best = 8 * min(len(c[1]) for c in classical.result() + candidates) / len(data)
            if estimate > PROBE_MARGIN * best:
                decision = f"network skipped: model probe {estimate:.2f} vs {best:.2f} bits/byte"
        if effort.network and not decision:
            lanes, payload, bits = codec().encode_cm_block(
                data, (lambda k, done=done: progress(done + k)) if progress else None)
            # on a tie a classical method wins: it decodes without the model (e.g. empty input)
            if payload is not None:
                candidates.append((Method.NETCM, payload))
        method, best = min(classical.result() + candidates, key=lambda c: len(c[1]))
        stats.decisions.append(f"{method.name.lower()} {len(best)} bytes"
                               + (f" ({decision})" if decision else ""))
        if method == Method.NETCM:
            stats.model_bits += bits
            stats.model_coded_bits += 8 * len(payload)
        stats.methods[method.name.lower()] = stats.methods.get(method.name.lower(), 0) + 1
        block = Block(method, len(data), lanes if method == Method.NETCM else 0,
                      container.crc32(data), best)
        out = container.pack_block(block)
        dst.write(out)
        stats.coded_bytes += len(out)
        stats.raw_bytes += len(data)
        digest.update(data)
        if progress:
            progress(stats.raw_bytes)
        if len(data) < size:
            break
    if original is not None:
        stats.raw_bytes, whole = original
    else:
        whole = digest.digest()
    out = container.pack_end(End(stats.raw_bytes, whole))
    dst.write(out)
    stats.coded_bytes += len(out)
    stats.sha256 = whole.hex()
    stats.seconds = time.perf_counter() - start
    return stats


def _span(start: int, length: int, structured_codec: bool) -> str:
    """Where a block's data lies: bytes of the original (bytes path), or of the codec's
    decoded stream in coding order (structured files: subpixels, samples)."""
    where = "decoded bytes" if structured_codec else "original bytes"  # decoded: opened too
    return f"{where} {start}-{start + max(length, 1) - 1}"


def _damaged(header: Header, index: int, exc: FormatError | IntegrityError,
             span: str = "") -> Exception:
    """The error of a model-coded block that failed to decode: which block (and where its
    data lies), and the two possible causes with both versions."""
    where = f" ({span})" if span else ""
    message = (f"block {index}{where} is damaged or was written by an incompatible arzip "
               f"(the file: format version {header.version}, written by {header.writer}; "
               f"this is arzip {__version__}, format version {FORMAT_VERSION}): {exc}")
    return type(exc)(message)


class _RecordError(FormatError):
    """A block record of a structured file that could not be read (already names it)."""


def _record(index: int, record: Block, start: int, structured_codec: bool) -> dict:
    return {"index": index, "method": record.method.name.lower(),
            "span": _span(start, record.raw_len, structured_codec), "start": start,
            "raw_bytes": record.raw_len, "payload_bytes": len(record.payload), "status": "ok"}


def _codec_getter(header: Header, model_override: str | None) -> Callable[[], object]:
    """The decoder's codec, loaded when the first model-coded block needs it."""
    codec = None

    def get_codec():
        nonlocal codec
        if codec is None:
            if not header.portable:
                raise _machine_bound(header)
            if not header.model:
                raise FormatError("corrupted header (no model recorded)")
            info = zoo.model_for_header(header.model, model_override)
            codec = load_codec(header.codec, info, header.coder)
        return codec

    return get_codec


def _block_error(header: Header, index: int, record: Block, start: int,
                 exc: FormatError | IntegrityError, decoded: bool = False) -> Exception:
    """The error of a bytes-path block that failed its checks, naming it and its bytes (a
    portable file's model block: also the two possible causes, see `_damaged`)."""
    span = _span(start, record.raw_len, decoded)
    if record.method in MODEL_METHODS and header.portable:
        return _damaged(header, index, exc, span)
    return type(exc)(f"block {index} ({span}): {exc}")


def _machine_bound(header: Header) -> FormatError:
    return FormatError(
        f"this file was written by {header.writer} (format version {header.version}), whose "
        "model-coded data decodes only with arzip 0.1 and the torch build and CPU that "
        "wrote it; restore it there with arzip 0.1.x")


def _decode_block(block: Block, codec_loader: Callable[[], object],
                  progress: Progress | None, max_size: int = MAX_BLOCK_SIZE,
                  version: int = FORMAT_VERSION) -> bytes:
    if block.raw_len > max_size:
        raise FormatError(f"corrupted block header (block of {block.raw_len} bytes)")
    limit = block.raw_len + 1  # never inflate more than the block can hold
    try:
        if block.method == Method.ZLIB:
            return zlib.decompressobj().decompress(block.payload, limit)
        if block.method == Method.LZMA:
            return lzma.LZMADecompressor().decompress(block.payload, max_length=limit)
    except (zlib.error, lzma.LZMAError) as exc:
        raise FormatError(f"corrupted block payload ({exc})") from None
    if block.method == Method.STORED:
        return block.payload
    if block.method == Method.CM:
        try:
            cm = codec_module("bytes", "cm")
            return cm.decode(block.payload, block.raw_len, cm.variant_of(version))
        except ValueError as exc:
            raise FormatError(f"corrupted block payload ({exc})") from None
    if not 1 <= block.lanes <= max(block.raw_len, 1):
        raise FormatError(f"corrupted block header (lanes {block.lanes})")
    if block.method == Method.NETCM:
        variant = codec_module("bytes", "cm").variant_of(version)
        return codec_loader().decode_cm_block(block.payload, block.raw_len, block.lanes,
                                              progress, variant)
    return codec_loader().decode_block(block.payload, block.raw_len, block.lanes, progress)


@one_blas_thread()
def decompress_stream(src: BinaryIO, write: Callable[[bytes], object] | None,
                      model_override: str | None = None,
                      progress: Progress | None = None, stats: Stats | None = None) -> Stats:
    """Decode an .arz stream, verifying every block, its length and the final sha256.

    Each block is checked against its CRC-32 before `write` sees it; the caller must still
    discard its output if this raises (the sha256 of the whole is checked last). A given
    `stats` is filled as decoding goes (its `blocks` say how far a failed decode got).
    """
    start = time.perf_counter()
    header = container.read_header(src)
    check_codec(header.codec)  # fail early on an unknown codec
    stats = stats if stats is not None else Stats()
    stats.codec = header.codec
    get_codec = _codec_getter(header, model_override)
    if header.model:
        stats.model = f"{header.model.get('name')}@{header.model.get('version')}"
    if structured(header.codec):
        _decode_file(src, header, get_codec, stats, progress, write)
        stats.seconds = time.perf_counter() - start
        return stats
    joiner = _joiner(src, header, get_codec, stats)
    digest, done, length = hashlib.sha256(), 0, 0
    while True:
        index = len(stats.blocks)
        try:
            record = container.read_record(src, header.version)
        except FormatError as exc:
            where = "the trailer" if "trailer" in str(exc) else f"block {index}"
            raise FormatError(f"{where} (from {_unit(joiner)} byte {done}): {exc}") from None
        if isinstance(record, End):
            break
        try:
            data = _checked(record, _decode_block(
                record, get_codec,
                (lambda k, done=done: progress(done + k)) if progress else None,
                version=header.version))
        except (FormatError, IntegrityError) as exc:
            if record.method in MODEL_METHODS and not header.portable:
                raise
            raise _block_error(header, index, record, done, exc, joiner is not None) from None
        stats.blocks.append(_record(index, record, done, joiner is not None))
        stats.methods[record.method.name.lower()] = stats.methods.get(
            record.method.name.lower(), 0) + 1
        done += len(data)
        for piece in _joined(joiner, data):
            digest.update(piece)
            length += len(piece)
            if write:
                write(piece)
        if progress:
            progress(done)
    if joiner is not None:
        try:
            joiner.finish()
        except ValueError as exc:
            raise IntegrityError(str(exc)) from None
    if not record.verifies(length, digest.digest()):
        raise IntegrityError("decoded data does not match the stored length/sha256")
    stats.raw_bytes = length
    stats.sha256 = digest.hexdigest()
    stats.seconds = time.perf_counter() - start
    return stats


def _decoded_stream(header: Header) -> bool:
    """Whether the blocks hold a stream that is not the original's bytes (a structured
    codec's, or an opened stream), so their lengths need not add up to the original's."""
    return structured(header.codec) or "opened" in header.codec_header


def _unit(joiner: opened.Joiner | None) -> str:
    return "original" if joiner is None else "opened"


def _joiner(src: BinaryIO, header: Header, get_codec: Callable[[], object],
            stats: Stats) -> opened.Joiner | None:
    """For a file whose deflate streams were opened: its side data (block 0) read into
    a Joiner that restores the original from the opened stream; else None."""
    kind = header.codec_header.get("opened")
    if kind is None:
        return None
    if kind != "deflate":
        raise FormatError(f"block 0 (side data): unknown opened streams '{kind}'")
    side, _ = _read_side(src, header, get_codec, stats)
    try:
        joiner = opened.Joiner(side, _decode_inner)
    except ValueError as exc:
        raise FormatError(f"block 0 (side data): {exc}") from None
    stats.methods["side"] = 1
    return joiner


SIDE_METHODS = (Method.STORED, Method.ZLIB, Method.LZMA)  # how side data may be coded


def _read_side(src: BinaryIO, header: Header, get_codec: Callable[[], object], stats: Stats,
               optional: bool = False) -> tuple[bytes, Block | End | None]:
    """A file's side data (block 0, classically coded), checked and recorded in stats,
    and None; with `optional` (a structured file of format 11 on, whose empty side data
    has no record) an empty side and the record read if that is not a side block."""
    try:
        record = container.read_record(src, header.version)
        if optional and (isinstance(record, End) or record.method not in SIDE_METHODS):
            return b"", record
        if isinstance(record, End) or record.method in MODEL_METHODS:
            raise FormatError("corrupted file (side data block missing)")
        side = _checked(record, _decode_block(record, get_codec, None, MAX_SIDE_SIZE))
    except (FormatError, IntegrityError) as exc:
        raise type(exc)(f"block 0{'' if optional else ' (side data)'}: {exc}") from None
    stats.blocks.append(_record(0, record, 0, True) | {"span": "side data"})
    return side, None


def _joined(joiner: opened.Joiner | None, data: bytes):
    """The original bytes for a block of decoded data."""
    if joiner is None:
        yield data
        return
    try:
        yield from joiner.feed(data)
    except ValueError as exc:
        raise IntegrityError(str(exc)) from None


def _decode_file(src: BinaryIO, header: Header, get_codec: Callable[[], object], stats: Stats,
                 progress: Progress | None, write: Callable[[bytes], object] | None) -> None:
    """The structured path: side block, model blocks, the file restored piece by piece
    into `write`; its length and sha256 are checked after the last piece (the caller
    discards the output if this raises)."""
    side, first = _read_side(src, header, get_codec, stats,
                             optional=header.version >= container.COMPACT_FROM)
    records: list = []
    decoded = 0

    def payloads():
        nonlocal first
        while True:
            try:
                record, first = first or container.read_record(src, header.version), None
                if isinstance(record, Block) and (
                        record.method not in allowed or (record.raw_len > MAX_BLOCK_SIZE
                                                         and record.method in MODEL_METHODS)):
                    # (a codec's classical block may hold a whole file: the codec checks
                    # its length against the header's shape)
                    raise FormatError("corrupted file (unexpected block)")
            except FormatError as exc:
                raise _RecordError(f"block {len(stats.blocks)} (from decoded byte {decoded}): "
                                   f"{exc}") from None
            records.append(record)
            if isinstance(record, End):
                return
            yield record.payload, record.raw_len, record.method

    codec, info = get_codec(), header.codec_header
    allowed = {Method.MODEL} | {m for m in getattr(codec, "classical_methods", ())
                                + getattr(codec, "model_methods", ())
                                if header.version >= container.CODEC_METHODS[m]}

    def checked_blocks():
        nonlocal decoded
        blocks = codec.decode(info, payloads(), progress)
        while True:
            try:
                raw = next(blocks, None)
                if raw is None:
                    return
                raw = _checked(records[-1], raw)
            except _RecordError:
                raise
            except (FormatError, IntegrityError) as exc:
                if not records or not isinstance(records[-1], Block):
                    raise
                raise _damaged(header, len(stats.blocks), exc,
                               _span(decoded, records[-1].raw_len, True)) from None
            stats.blocks.append(_record(len(stats.blocks), records[-1], decoded, True))
            decoded += len(raw)
            yield raw
            name = records[-1].method.name.lower()
            stats.methods[name] = stats.methods.get(name, 0) + 1

    digest, length = hashlib.sha256(), 0
    for piece in codec.restore(info, side, checked_blocks()):
        digest.update(piece)
        length += len(piece)
        if write:
            write(piece)
    end = (records[-1] if records and isinstance(records[-1], End)
           else first or container.read_record(src, header.version))
    if not isinstance(end, End):
        raise FormatError("corrupted file (more blocks than the file has)")
    if not end.verifies(length, digest.digest()):
        raise IntegrityError("decoded data does not match the stored length/sha256")
    stats.raw_bytes, stats.sha256 = length, digest.hexdigest()


def _checked(record: Block, data: bytes) -> bytes:
    """`data` if it has the length and CRC-32 the block record promises."""
    if len(data) != record.raw_len or container.crc32(data) != record.raw_crc:
        raise IntegrityError("decoded data does not match its checksum "
                             "(corrupted file or a different model/platform)")
    return data


def describe(src: BinaryIO) -> dict:
    """Header and block summary of an .arz stream without decoding (for `arzip info`)."""
    header = container.read_header(src)
    blocks, coded, raw = [], 0, 0
    while True:
        record = container.read_record(src, header.version)
        if isinstance(record, End):
            break
        blocks.append({"method": record.method.name.lower(), "raw_bytes": record.raw_len,
                       "payload_bytes": len(record.payload), "lanes": record.lanes})
        raw += record.raw_len
        coded += len(record.payload)
    if record.total_len != raw and not _decoded_stream(header):
        raise FormatError("corrupted file (block lengths do not add up to the stored total)")
    return {"format_version": header.version, "writer": header.writer,
            "portable": header.portable, "codec": header.codec, "model": header.model,
            "coder": header.coder, "codec_header": header.codec_header,
            "original_bytes": record.total_len, "sha256": record.sha256.hex(),
            "sha256_bits": 8 * len(record.sha256), "blocks": blocks}


@one_blas_thread()
def verify_stream(src: BinaryIO, model_override: str | None = None) -> dict:
    """Decode an .arz stream without output and report every block's status (`arzip test
    --json`): "ok", "damaged" (with the error), "unreadable" (its record is broken, so
    nothing after it can be located) or "not checked". Blocks of the bytes path are coded
    independently, so the check goes on after a damaged one and every intact block is
    reported as such; in a structured file (image, audio) each block continues the state
    of the one before, and a file with opened deflate streams is restored in order, so
    there the blocks after a damaged one are "not checked"."""
    head = container.header_bytes(src)
    header = container.read_header(io.BytesIO(head))
    check_codec(header.codec)
    report = {"codec": header.codec, "format_version": header.version, "ok": False}
    stats = Stats()
    if _decoded_stream(header):  # each block continues the one before: checked in order
        try:
            decompress_stream(_Prefixed(head, src), None, model_override, stats=stats)
            return report | {"ok": True, "bytes": stats.raw_bytes, "blocks": stats.blocks}
        except ModelError:
            raise
        except (FormatError, IntegrityError) as exc:
            blocks = stats.blocks + [{"index": len(stats.blocks), "status": "damaged",
                                      "error": str(exc)}]
        while True:  # what follows can no longer be decoded: list it
            try:
                record = container.read_record(src, header.version)
            except FormatError:
                break
            if isinstance(record, End):
                break
            blocks.append({"index": len(blocks), "method": record.method.name.lower(),
                           "raw_bytes": record.raw_len, "status": "not checked"})
        return report | {"error": blocks[len(stats.blocks)]["error"], "blocks": blocks}
    blocks, done, digest = [], 0, hashlib.sha256()
    get_codec = _codec_getter(header, model_override)
    while True:
        try:
            record = container.read_record(src, header.version)
        except FormatError as exc:
            blocks.append({"index": len(blocks), "status": "unreadable",
                           "span": f"from original byte {done}", "error": str(exc)})
            break
        if isinstance(record, End):
            intact = all(b["status"] == "ok" for b in blocks)
            if intact and not record.verifies(done, digest.digest()):
                report["error"] = "decoded data does not match the stored length/sha256"
            report["ok"] = intact and "error" not in report
            break
        entry = _record(len(blocks), record, done, False)
        try:
            data = _checked(record, _decode_block(record, get_codec, None,
                                                  version=header.version))
            digest.update(data)
        except (FormatError, IntegrityError) as exc:
            entry.update(status="damaged",
                         error=str(_block_error(header, entry["index"], record, done, exc)))
        blocks.append(entry)
        done += record.raw_len
    bad = [b for b in blocks if b["status"] != "ok"]
    if bad and "error" not in report:
        report["error"] = f"{len(bad)} of {len(blocks)} blocks damaged or unreadable"
    return report | {"bytes": done, "blocks": blocks}
