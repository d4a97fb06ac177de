"""The .arz container: bytes <-> dataclasses. Pure bytes, no torch, no codec knowledge.

Layout (all integers little-endian; see docs/FORMAT.md):

    header   magic b"\\x89ARZ" | version u8 | body_len u32 | deflated JSON (UTF-8) | crc32 u32
    block*   b"B" | method u8 | raw_len u32 | lanes u16 | payload_len u32
             | raw_crc32 u32 | payload_crc32 u32 | record_crc32 u32 | payload
    end      b"E" | total_len u64 | sha256 (32 bytes) | crc32 u32

From version 11 (compact framing; v = unsigned LEB128 varint):

    header   magic b"\\x89ARZ" | version u8 | body_len v | deflated JSON | crc32 u32
    block*   method u8 | raw_len v | lanes v | payload_len v | raw_crc32 u32 | payload
             | crc32 u32 (of the record so far)
    end      b"E" | total_len v | sha256 (32 bytes) | crc32 u32

From version 12 the trailer keeps the first 8 bytes of the sha256 (64 bits, as xz's
CRC-64 check; every block still has its CRC-32):

    end      b"E" | total_len v | sha256[:8] | crc32 u32

The JSON header names the codec by a stable string id, the model (name, version, sha256 of
its weights), the coder settings and a codec-specific dictionary; from version 3 also the
arzip that wrote it ("writer").

Versions: 14 is written: version 13 with the audio codec's cascade 3 (two online least-
squares stages after its adaptive filters; the coder settings' "adaptive" has "cascade":
3 and "ols"; cascade 2 still decodes) and block method 8 (an audio block coded by the
model's classical stages alone, without the network). Version 13: version 12 with the
image codec's context-mixing variant 2 (an online least-squares predictor among its
models and a fourth mixer weight set; the coder settings' "cm": 2; variant 1 still
decodes). Version 12: version 11 with the trailer's sha256 cut to its first 64 bits (24
bytes less per file: 0.8 % of a 0.35 s speech clip's archive). Version 11: version 10
with compact framing (varint lengths, one CRC-32 per block record and its payload, no
record for an empty side-data block; see docs/FORMAT.md: a short file's framing shrinks
by about 45 bytes). Version 10: version 9 with the audio codec's context mixing (the
quantized Laplace refined by models learned from the signal, coded bit by bit; the coder
settings' "cm"). Version 9: version 8 with the image codec's context mixing (the
network's distribution mixed with models learned from the image, coded bit by bit; the
coder settings' "cm"). Version 8 changed the bytes codec's context mixing (variant 3)
and its default model. Version 7: version 6 with a header that costs about 25 bytes
instead of 100-170 (raw deflate, whose preset dictionary adds each codec's default
header whole; it matters for short files: a 0.35 s speech clip's header was 8 % of its
archive). Version 6: version 5 plus blocks of a structured file that its codec's
classical coder wrote (method 6: FLAC for an audio block that FLAC codes smaller than
the model; method 7: one lossless WebP of all of an image's pixels). Version 5 added
blocks whose context mixing takes the network's bit probabilities as one input (method
5). Version 4 added context-mixing blocks (method 4) and opened deflate streams (a side-
data block first, then the opened stream's blocks; see `opened`). Every probability of a
version 3-14 file is computed in exact arithmetic (`exact`), so it decodes on any
machine. Versions 1 and 2 (arzip 0.1) are still read, but their model-coded data
depended on the writer's machine and torch build: `PORTABLE_VERSIONS` says which
versions a model-coded block may have.
"""

from __future__ import annotations

import json
import struct
import zlib
from dataclasses import dataclass, field
from enum import IntEnum
from typing import BinaryIO

from . import __version__
from .errors import FormatError

MAGIC = b"\x89ARZ"
FORMAT_VERSION = 16  # what this arzip writes
READABLE_VERSIONS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16)
# model-coded data of these versions decode anywhere
PORTABLE_VERSIONS = (3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16)
WRITER = f"arzip {__version__}"
MAX_HEADER_JSON = 1 << 20
# Preset dictionaries of the deflated JSON header: typical keys and values, so a header
# costs a few dozen bytes (it matters for small files). Each is part of its format
# version and must never change; version 2 only appends the image and audio codecs'.
_DICTIONARY_V1 = (
    b'{"codec":"bytes","codec_header":{},"coder":{"max_lanes":512,"min_lane_bytes":512,'
    b'"mixer":{"count_limit":250,"floor":0.002,"learning_rate":0.02,"log2_rows":18,'
    b'"match_model":true,"max_order":5,"prior":0.0005},"model":"categorical",'
    b'"type":"range","words":"u32le"},"model":{"name":"text-byte-small","sha256":"'
    b'0123456789abcdef","version":"1"}}')
_DICTIONARY_V2 = _DICTIONARY_V1 + (
    b'{"codec":"image","codec_header":{"bit_depth":8,"channels":3,"format":"png",'
    b'"guarantee":"byte-exact","height":512,"mode":"RGB","width":512,"zlib":[9,15,9,0]},'
    b'"coder":{"adaptive":{"buckets":8,"count_limit":8192,"error_edges":[1,3,7],'
    b'"lr":0.05,"prior":0.03,"weight_init":0.9,"weight_max":0.999,"weight_min":0.05},'
    b'"block_subpixels":1048576,"model":"categorical","schedule":"wavefront-2",'
    b'"type":"range","words":"u32le"},"model":{"name":"image-pixelcnn-small",'
    b'"sha256":"'
    b'{"codec":"audio","codec_header":{"channels":1,"format":"wav","frames":8000,'
    b'"guarantee":"byte-exact","layout":"canonical","offset":44,"rate":16000},'
    b'"coder":{"adaptive":{"rate":0.004,"ratio_max":50.0,"scale_decay":0.98,'
    b'"shared":false,"taps":8},"block_frames":1048576,"chunk":2048,'
    b'"model":"quantized-laplace","schedule":"lanes-1","type":"range","words":"u32le"},'
    b'"model":{"name":"audio-wavenet-small","sha256":"')
_DICTIONARY_V3 = _DICTIONARY_V2 + (
    b'"writer":"arzip 0.2.0"'
    b'{"codec":"bytes","codec_header":{},"coder":{"max_lanes":512,"min_lane_bytes":512,'
    b'"mixer":{"count_limit":250,"floor":0.002,"learning_rate":0.02,"log2_rows":18,'
    b'"match_model":true,"max_order":5,"prior":0.0005},"model":"categorical",'
    b'"type":"range","words":"u32le"},"model":{"name":"text-byte-small","sha256":"'
    b'"coder":{"adaptive":{"buckets":8,"count_limit":8192,"error_edges":[1,3,7],'
    b'"lr":0.05,"prior":1,"weight_init":0.9,"weight_max":0.999,"weight_min":0.05},'
    b'"model":{"name":"image-pixelcnn-small","sha256":"'
    b'"model":"exact-laplace-1","schedule":"lanes-1","type":"range","words":"u32le"},'
    b'"model":{"name":"audio-wavenet-small","sha256":"')
_DICTIONARY_V4 = _DICTIONARY_V3 + (
    b'"codec_header":{"opened":"deflate","streams":1,"zlib":"1.2.13"},"coder":{"max_lanes":512,'
    b'"min_lane_bytes":512,"mixer":{"count_limit":250,"floor":0.002,"learning_rate":0.02,'
    b'"log2_rows":18,"match_model":true,"max_order":5,"prior":0.0005},"model":"categorical",'
    b'"type":"range","words":"u32le"},"model":{"name":"text-byte-small","sha256":"')
_DICTIONARY_V7 = _DICTIONARY_V4 + (  # format 7: whole headers of each codec's defaults
    b'{"codec":"bytes","codec_header":{},"coder":{"max_lanes":512,"min_lane_bytes":512,"mixer"'
    b':{"count_limit":250,"floor":0.002,"learning_rate":0.02,"log2_rows":18,"match_model":true'
    b',"max_order":5,"prior":0.0005},"model":"categorical","type":"range","words":"u32le"},"mo'
    b'del":{"name":"text-byte-small","sha256":"4d50e7dab2ba7f2e8176cac601cfb603bda3e58428854fb'
    b'b04a73e271896a80e","version":"3"},"writer":"arzip 0.2.0"}{"codec":"bytes","codec_header"'
    b':{"opened":"deflate","streams":2,"zlib":"1.2.13"},"coder":{"max_lanes":512,"min_lane_byt'
    b'es":512,"mixer":{"count_limit":250,"floor":0.002,"learning_rate":0.02,"log2_rows":18,"ma'
    b'tch_model":true,"max_order":5,"prior":0.0005},"model":"categorical","type":"range","word'
    b's":"u32le"},"model":{"name":"text-byte-small","sha256":"4d50e7dab2ba7f2e8176cac601cfb603'
    b'bda3e58428854fbb04a73e271896a80e","version":"3"},"writer":"arzip 0.2.0"}{"codec":"image"'
    b',"codec_header":{"bit_depth":8,"channels":3,"format":"png","guarantee":"byte-exact","hei'
    b'ght":128,"mode":"RGB","width":128,"zlib":[9,15,9,1]},"coder":{"adaptive":{"buckets":8,"c'
    b'ount_limit":8192,"error_edges":[1,3,7],"lr":0.05,"prior":1,"weight_init":0.9,"weight_max'
    b'":0.999,"weight_min":0.05},"block_subpixels":1048576,"model":"categorical","schedule":"w'
    b'avefront-2","type":"range","words":"u32le"},"model":{"name":"image-pixelcnn-small","sha2'
    b'56":"4b503af12aa72bf11298f8338992db5333fb4b5bb9c7e85156a1989f75598f04","version":"2"},"w'
    b'riter":"arzip 0.2.0"}{"codec":"audio","codec_header":{"channels":2,"format":"wav","frame'
    b's":49989,"guarantee":"byte-exact","offset":44,"rate":44100},"coder":{"adaptive":{"cascad'
    b'e":2,"cross":4,"long_rate":0.0004,"long_taps":128,"rate":0.002,"ratio_max":50.0,"scale_d'
    b'ecay":0.98,"shared":false,"taps":16},"block_frames":1048576,"chunk":2048,"model":"exact-'
    b'laplace-1","schedule":"lanes-1","type":"range","words":"u32le"},"model":{"name":"audio-w'
    b'avenet-small","sha256":"78cdea12c381f4f5e910675e1ca883ec91492c68ca6e538c0a9a7c6a594423ea'
    b'","version":"3"},"writer":"arzip 0.2.0"}{"codec":"audio","codec_header":{"channels":1,"f'
    b'ormat":"flac","frames":2384,"guarantee":"sample-exact","prefix":0,"rate":8000},"coder":{'
    b'"adaptive":{"cascade":2,"cross":4,"long_rate":0.0004,"long_taps":128,"rate":0.002,"ratio'
    b'_max":50.0,"scale_decay":0.98,"shared":false,"taps":16},"block_frames":1048576,"chunk":2'
    b'048,"model":"exact-laplace-1","schedule":"lanes-1","type":"range","words":"u32le"},"mode'
    b'l":{"name":"audio-wavenet-small","sha256":"78cdea12c381f4f5e910675e1ca883ec91492c68ca6e5'
    b'38c0a9a7c6a594423ea","version":"3"},"writer":"arzip 0.2.0"}{"codec":"audio","codec_heade'
    b'r":{"channels":1,"format":"wav","frames":57040,"guarantee":"byte-exact","layout":"canoni'
    b'cal","offset":44,"rate":16000},"coder":{"adaptive":{"cascade":2,"cross":4,"long_rate":0.'
    b'0004,"long_taps":128,"rate":0.002,"ratio_max":50.0,"scale_decay":0.98,"shared":false,"ta'
    b'ps":16},"block_frames":1048576,"chunk":2048,"model":"exact-laplace-1","schedule":"lanes-'
    b'1","type":"range","words":"u32le"},"model":{"name":"audio-wavenet-small","sha256":"78cde'
    b'a12c381f4f5e910675e1ca883ec91492c68ca6e538c0a9a7c6a594423ea","version":"3"},"writer":"ar'
    b'zip 0.2.0"}')
_DICTIONARY_V8 = _DICTIONARY_V7 + (  # format 8: the bytes codec's headers with its new default
    b'{"codec":"bytes","codec_header":{"opened":"deflate","streams":2,"zlib":"1.2.13"},"coder":'
    b'{"max_lanes":512,"min_lane_bytes":512,"mixer":{"count_limit":250,"floor":0.002,"learning_'
    b'rate":0.02,"log2_rows":18,"match_model":true,"max_order":5,"prior":0.0005},"model":"categ'
    b'orical","type":"range","words":"u32le"},"model":{"name":"text-byte-small","sha256":"fd006'
    b'a3c635af4cecaee5d1e4d24ae355b83c7d3725890701f0baf3114a1851e","version":"4"},"writer":"arz'
    b'ip 0.2.0"}{"codec":"bytes","codec_header":{},"coder":{"max_lanes":512,"min_lane_bytes":51'
    b'2,"mixer":{"count_limit":250,"floor":0.002,"learning_rate":0.02,"log2_rows":18,"match_mod'
    b'el":true,"max_order":5,"prior":0.0005},"model":"categorical","type":"range","words":"u32l'
    b'e"},"model":{"name":"text-byte-small","sha256":"fd006a3c635af4cecaee5d1e4d24ae355b83c7d37'
    b'25890701f0baf3114a1851e","version":"4"},"writer":"arzip 0.2.0"}')

_DICTIONARY_V9 = _DICTIONARY_V8 + (  # format 9: the image codec's header with context mixing
    b'{"codec":"image","codec_header":{"bit_depth":8,"channels":3,"format":"png","guarantee":"'
    b'byte-exact","height":512,"mode":"RGB","width":512,"zlib":[9,15,9,0]},"coder":{"adaptive"'
    b':{"buckets":8,"count_limit":8192,"error_edges":[1,3,7],"lr":0.05,"prior":1,"weight_init"'
    b':0.9,"weight_max":0.999,"weight_min":0.05},"block_subpixels":1048576,"cm":1,"schedule":"'
    b'wavefront-2","type":"binary"},"model":{"name":"image-pixelcnn-small","sha256":"4b503af12'
    b'aa72bf11298f8338992db5333fb4b5bb9c7e85156a1989f75598f04","version":"2"},"writer":"arzip '
    b'0.2.0"}')

_DICTIONARY_V10 = _DICTIONARY_V9 + (  # format 10: the audio codec's headers with context mixing
    b'{"codec":"audio","codec_header":{"channels":2,"format":"flac","frames":441000,"guarantee'
    b'":"sample-exact","prefix":0,"rate":44100},"coder":{"adaptive":{"cascade":2,"cross":4,"lo'
    b'ng_rate":0.0004,"long_taps":128,"rate":0.002,"ratio_max":50.0,"scale_decay":0.98,"shared'
    b'":false,"taps":16},"block_frames":1048576,"chunk":2048,"cm":1,"schedule":"lanes-1","type'
    b'":"binary"},"model":{"name":"audio-wavenet-small","sha256":"78cdea12c381f4f5e910675e1ca8'
    b'83ec91492c68ca6e538c0a9a7c6a594423ea","version":"3"},"writer":"arzip 0.2.0"}{"codec":"au'
    b'dio","codec_header":{"channels":1,"format":"wav","frames":3000,"guarantee":"byte-exact",'
    b'"layout":"canonical","offset":44,"rate":8000},"coder":{"adaptive":{"cascade":2,"cross":4'
    b',"long_rate":0.0004,"long_taps":128,"rate":0.002,"ratio_max":50.0,"scale_decay":0.98,"sh'
    b'ared":false,"taps":16},"block_frames":1048576,"chunk":2048,"cm":1,"schedule":"lanes-1","'
    b'type":"binary"},"model":{"name":"audio-wavenet-small","sha256":"78cdea12c381f4f5e910675e'
    b'1ca883ec91492c68ca6e538c0a9a7c6a594423ea","version":"3"},"writer":"arzip 0.2.0"}')

_DICTIONARY_V14 = _DICTIONARY_V10 + (  # format 14: audio headers with cascade 3
    b'{"codec":"audio","codec_header":{"channels":2,"format":"flac","frames":441000,"guarantee'
    b'":"sample-exact","prefix":0,"rate":44100},"coder":{"adaptive":{"cascade":3,"cross":4,"lo'
    b'ng_rate":0.0004,"long_taps":128,"ols":[[16,16,0.998],[8,2,0.98]],"rate":0.002,"ratio_max"'
    b':50.0,"scale_decay":0.98,"shared":false,"taps":16},"block_frames":1048576,"chunk":8192,"'
    b'cm":1,"schedule":"lanes-1","type":"binary"},"model":{"name":"audio-wavenet-small","sha25'
    b'6":"78cdea12c381f4f5e910675e1ca883ec91492c68ca6e538c0a9a7c6a594423ea","version":"3"},"wr'
    b'iter":"arzip 0.2.0"}{"codec":"audio","codec_header":{"channels":1,"format":"wav","frames'
    b'":3000,"guarantee":"byte-exact","layout":"canonical","offset":44,"rate":8000},"coder":{"'
    b'adaptive":{"cascade":3,"cross":4,"long_rate":0.0004,"long_taps":128,"ols":[[16,16,0.998],'
    b'[8,2,0.98]],"rate":0.002,"ratio_max":50.0,"scale_decay":0.98,"shared":false,"taps":16},"'
    b'block_frames":1048576,"chunk":2048,"cm":1,"schedule":"lanes-1","type":"binary"},"model":'
    b'{"name":"audio-wavenet-small","sha256":"78cdea12c381f4f5e910675e1ca883ec91492c68ca6e538c'
    b'0a9a7c6a594423ea","version":"3"},"writer":"arzip 0.2.0"}')

HEADER_DICTIONARIES = {1: _DICTIONARY_V1, 2: _DICTIONARY_V2, 3: _DICTIONARY_V3,
                       4: _DICTIONARY_V4, 5: _DICTIONARY_V4, 6: _DICTIONARY_V4,
                       7: _DICTIONARY_V7, 8: _DICTIONARY_V8, 9: _DICTIONARY_V9,
                       10: _DICTIONARY_V10, 11: _DICTIONARY_V10, 12: _DICTIONARY_V10,
                       13: _DICTIONARY_V10, 14: _DICTIONARY_V14, 15: _DICTIONARY_V14,
                       16: _DICTIONARY_V14}
RAW_DEFLATE_FROM = 7  # headers of this version on are raw deflate (the header's CRC checks)
COMPACT_FROM = 11  # records of this version on have varint lengths and one CRC per record
SHORT_DIGEST_FROM = 12  # trailers of this version on keep 8 bytes of the sha256

_HEAD = struct.Struct("<4sBI")
_BLOCK = struct.Struct("<BIHIII")  # after the b"B" tag, before the record crc
_END = struct.Struct("<Q32s")  # after the b"E" tag, before the crc
_CRC = struct.Struct("<I")


class Method(IntEnum):
    """How a block's payload encodes its bytes."""

    STORED = 0
    ZLIB = 1
    LZMA = 2
    MODEL = 3
    CM = 4  # binary context mixing without the network (version 4 on)
    NETCM = 5  # binary context mixing with the network as an input, in lanes (version 5 on)
    FLAC = 6  # an audio block as a FLAC stream (version 6 on)
    WEBP = 7  # all of an image's pixels as a lossless WebP (version 6 on)
    STAGES = 8  # a structured codec's model without its network (audio; version 14 on)


MODEL_METHODS = (Method.MODEL, Method.NETCM, Method.STAGES)  # blocks that need the codec
# the classical coding of a structured file's block (its codec writes and reads it) and
# the first version that has it
CODEC_METHODS = {Method.FLAC: 6, Method.WEBP: 6, Method.STAGES: 14}

@dataclass
class Header:
    """File-level metadata."""

    codec: str
    model: dict | None = None  # {"name", "version", "sha256"}
    coder: dict = field(default_factory=dict)
    codec_header: dict = field(default_factory=dict)
    version: int = FORMAT_VERSION
    writer: str = WRITER  # "arzip X.Y.Z" (recorded from version 3 on)

    def to_json(self) -> dict:
        out = {"codec": self.codec, "model": self.model, "coder": self.coder,
               "codec_header": self.codec_header}
        if self.version >= 3:
            out["writer"] = self.writer
        return out

    @property
    def portable(self) -> bool:
        """Whether model-coded data of this file decodes on any machine."""
        return self.version in PORTABLE_VERSIONS


@dataclass
class Block:
    """One independently coded block of the original bytes."""

    method: Method
    raw_len: int
    lanes: int
    raw_crc: int
    payload: bytes


@dataclass
class End:
    """The trailer: total original length and its sha256 (from version 12 its first 8
    bytes; a writer may pass the whole digest, `pack_end` keeps what the version holds)."""

    total_len: int
    sha256: bytes

    def verifies(self, length: int, sha256: bytes) -> bool:
        """Whether decoded data of this length and (whole) sha256 is the original."""
        return length == self.total_len and sha256[:len(self.sha256)] == self.sha256


def digest_bytes(version: int) -> int:
    """How many bytes of the original's sha256 a trailer of `version` holds."""
    return 8 if version >= SHORT_DIGEST_FROM else 32


def crc32(data: bytes, start: int = 0) -> int:
    """The CRC-32 of `data` (continuing from the CRC `start` of what came before)."""
    return zlib.crc32(data, start) & 0xFFFFFFFF


def _window_bits(version: int) -> int:
    """zlib's wbits for a version's header: a zlib stream, or raw deflate from version 7."""
    return -15 if version >= RAW_DEFLATE_FROM else 15


def varint(value: int) -> bytes:
    """`value` (>= 0) as an unsigned LEB128 varint: 7 bits a byte, low first."""
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def pack_header(header: Header) -> bytes:
    text = json.dumps(header.to_json(), sort_keys=True, separators=(",", ":")).encode()
    packer = zlib.compressobj(9, zlib.DEFLATED, _window_bits(header.version),
                              zdict=HEADER_DICTIONARIES[header.version])
    body = packer.compress(text) + packer.flush()
    if header.version >= COMPACT_FROM:
        head = MAGIC + bytes([header.version]) + varint(len(body)) + body
    else:
        head = _HEAD.pack(MAGIC, header.version, len(body)) + body
    return head + _CRC.pack(crc32(head))


def pack_block(block: Block, version: int = FORMAT_VERSION) -> bytes:
    """A block's record and payload as `version` lays them out."""
    if version >= COMPACT_FROM:
        record = (bytes([int(block.method)]) + varint(block.raw_len) + varint(block.lanes)
                  + varint(len(block.payload)) + _CRC.pack(block.raw_crc) + block.payload)
        return record + _CRC.pack(crc32(record))
    fields = _BLOCK.pack(int(block.method), block.raw_len, block.lanes, len(block.payload),
                         block.raw_crc, crc32(block.payload))
    record = b"B" + fields
    return record + _CRC.pack(crc32(record)) + block.payload


def pack_end(end: End, version: int = FORMAT_VERSION) -> bytes:
    """The trailer as `version` lays it out."""
    if version >= COMPACT_FROM:
        record = b"E" + varint(end.total_len) + end.sha256[:digest_bytes(version)]
    else:
        record = b"E" + _END.pack(end.total_len, end.sha256)
    return record + _CRC.pack(crc32(record))


READ_CHUNK = 1 << 20


def _read_exact(stream: BinaryIO, n: int, what: str) -> bytes:
    """n bytes, read a chunk at a time: a declared length costs memory only as the data it
    promises actually arrives (a lying length in a short file fails fast and small)."""
    if n <= READ_CHUNK:
        data = stream.read(n)
    else:
        parts, left = [], n
        while left:
            part = stream.read(min(left, READ_CHUNK))
            if not part:
                break
            parts.append(part)
            left -= len(part)
        data = b"".join(parts)
    if len(data) != n:
        raise FormatError(f"truncated file: unexpected end of data in the {what}")
    return data


def header_bytes(stream: BinaryIO) -> bytes:
    """The raw bytes of the header at the start of `stream` (as far as its length field
    is plausible), for a reader that parses it twice; `read_header` validates them."""
    head = stream.read(5)
    if len(head) < 5 or head[:4] != MAGIC:
        return head
    if head[4] >= COMPACT_FROM:
        more = bytearray()
        length = _varint_of(stream, more)
        head += more
    else:
        more = stream.read(4)
        head += more
        length = struct.unpack("<I", more)[0] if len(more) == 4 else None
    if length is None or length > MAX_HEADER_JSON:
        return head
    return head + stream.read(length + 4)


def _varint_of(stream: BinaryIO, record: bytearray) -> int | None:
    """The varint next in `stream`, its bytes appended to `record`; None if the stream
    ends inside it or it is implausibly long (over 2^56)."""
    shift, value = 0, 0
    while shift < 63:
        byte = stream.read(1)
        if not byte:
            return None
        record += byte
        value |= (byte[0] & 0x7F) << shift
        if byte[0] < 0x80:
            return value
        shift += 7
    return None


def _read_varint(stream: BinaryIO, record: bytearray, what: str) -> int:
    start = len(record)
    value = _varint_of(stream, record)
    if value is None:
        if len(record) - start >= 9:
            raise FormatError(f"corrupted {what} (implausible length)")
        raise FormatError(f"truncated file: unexpected end of data in the {what}")
    return value


def read_header(stream: BinaryIO) -> Header:
    """Parse and validate the header at the start of `stream`."""
    head = stream.read(5)
    if len(head) < 4 or head[:4] != MAGIC:
        raise FormatError("not an .arz file (bad magic bytes)")
    if len(head) < 5:
        raise FormatError("truncated file: unexpected end of data in the header")
    version = head[4]
    if version not in READABLE_VERSIONS:
        raise FormatError(f"unsupported .arz format version {version} (this arzip reads "
                          f"versions {', '.join(map(str, READABLE_VERSIONS))})")
    if version >= COMPACT_FROM:
        record = bytearray(head)
        json_len = _read_varint(stream, record, "header")
        head = bytes(record)
    else:
        head += _read_exact(stream, 4, "header")
        json_len = struct.unpack_from("<I", head, 5)[0]
    if json_len > MAX_HEADER_JSON:
        raise FormatError("corrupted header (implausible length)")
    body = _read_exact(stream, json_len, "header")
    (stored,) = _CRC.unpack(_read_exact(stream, 4, "header"))
    if stored != crc32(head + body):
        raise FormatError("corrupted header (checksum mismatch)")
    try:
        unpacker = zlib.decompressobj(_window_bits(version), zdict=HEADER_DICTIONARIES[version])
        meta = json.loads(unpacker.decompress(body, MAX_HEADER_JSON))
        header = Header(codec=str(meta["codec"]), model=meta["model"],
                        coder=dict(meta["coder"]), codec_header=dict(meta["codec_header"]),
                        version=version, writer=str(meta.get("writer", "arzip 0.1")))
    except (ValueError, KeyError, TypeError, zlib.error) as exc:
        raise FormatError(f"corrupted header ({exc})") from None
    model = header.model
    if model is not None and not (isinstance(model, dict) and all(
            isinstance(model.get(key), str) for key in ("name", "version", "sha256"))):
        raise FormatError("corrupted header (invalid model entry)")
    return header


def read_record(stream: BinaryIO, version: int) -> Block | End:
    """Parse the next block or the trailer of a `version` file, checking every checksum."""
    if version >= COMPACT_FROM:
        return _read_compact_record(stream, digest_bytes(version))
    tag = stream.read(1)
    if tag == b"B":
        fields = _read_exact(stream, _BLOCK.size, "block header")
        (stored,) = _CRC.unpack(_read_exact(stream, 4, "block header"))
        if stored != crc32(tag + fields):
            raise FormatError("corrupted block header (checksum mismatch)")
        method, raw_len, lanes, payload_len, raw_crc, payload_crc = _BLOCK.unpack(fields)
        try:
            method = Method(method)
        except ValueError:
            raise FormatError(f"unknown block method {method}") from None
        payload = _read_exact(stream, payload_len, "block payload")
        if crc32(payload) != payload_crc:
            raise FormatError("corrupted block payload (checksum mismatch)")
        return Block(method, raw_len, lanes, raw_crc, payload)
    if tag == b"E":
        fields = _read_exact(stream, _END.size, "trailer")
        (stored,) = _CRC.unpack(_read_exact(stream, 4, "trailer"))
        if stored != crc32(tag + fields):
            raise FormatError("corrupted trailer (checksum mismatch)")
        total_len, digest = _END.unpack(fields)
        return _end(stream, total_len, digest)
    if not tag:
        raise FormatError("truncated file: the trailer is missing")
    raise FormatError("corrupted file (unknown record type)")


def _end(stream: BinaryIO, total_len: int, digest: bytes) -> End:
    if stream.read(1):
        raise FormatError("unexpected data after the end of the .arz stream")
    return End(total_len, digest)


def _read_compact_record(stream: BinaryIO, digest_len: int) -> Block | End:
    """A record of version 11 on: one CRC-32 covers its fields and payload; a trailer
    holds `digest_len` bytes of the sha256."""
    tag = stream.read(1)
    if not tag:
        raise FormatError("truncated file: the trailer is missing")
    record = bytearray(tag)
    if tag == b"E":
        total_len = _read_varint(stream, record, "trailer")
        digest = _read_exact(stream, digest_len, "trailer")
        (stored,) = _CRC.unpack(_read_exact(stream, 4, "trailer"))
        if stored != crc32(bytes(record) + digest):
            raise FormatError("corrupted trailer (checksum mismatch)")
        return _end(stream, total_len, digest)
    try:
        method = Method(tag[0])
    except ValueError:
        raise FormatError("corrupted file (unknown record type)") from None
    raw_len = _read_varint(stream, record, "block header")
    lanes = _read_varint(stream, record, "block header")
    payload_len = _read_varint(stream, record, "block header")
    if max(raw_len, payload_len) >= 1 << 40 or lanes >= 1 << 16:
        raise FormatError("corrupted block header (implausible length)")
    record += _read_exact(stream, 4, "block header")
    payload = _read_exact(stream, payload_len, "block payload")
    (stored,) = _CRC.unpack(_read_exact(stream, 4, "block payload"))
    if stored != crc32(payload, crc32(bytes(record))):
        raise FormatError("corrupted block (checksum mismatch)")
    return Block(method, raw_len, lanes, _CRC.unpack_from(record, len(record) - 4)[0], payload)
