"""The .arz container through the engine: round trips, header/trailer checks, corruption.

Coding runs the model step by step, so inputs are small and every compressed file is made
once per module. The corruption files put their only model-coded block last, so a damaged
file is usually rejected before any model step runs.
"""

from __future__ import annotations

import hashlib
import io
import random
import struct
import zlib
from pathlib import Path

import pytest

import arzip
from arzip import container, engine, zoo
from arzip.container import MAGIC, Block, End, Header, Method
from arzip.errors import ArzipError, CodecError, FormatError, IntegrityError, ModelError

SENTENCES = [
    "Grüße aus Köln: naïve café, crème brûlée and a smörgåsbord. ",
    "The quick brown fox jumps over the lazy dog. ",
    "Ελληνικά, русский текст и 日本語のテキスト — 数据压缩. ",
    "¿Qué tal? Ça va très bien, merci! ",
]
# the most a block record's framing takes in these tests' files (method, three varints for
# lengths under 2 MiB and lanes under 16384, the raw data's CRC and the record's CRC)
RECORD = 1 + 3 + 2 + 3 + 4 + 4


def make_text(n: int, seed: int = 0) -> bytes:
    rng = random.Random(seed)
    parts, size = [], 0
    while size < n:
        parts.append(rng.choice(SENTENCES))
        size += len(parts[-1].encode())
    return "".join(parts).encode()[:n].decode("utf-8", "ignore").encode()


def compress(data: bytes, model: str, **kwargs) -> tuple[bytes, engine.Stats]:
    dst = io.BytesIO()
    stats = engine.compress_stream(io.BytesIO(data), dst, model, **kwargs)
    return dst.getvalue(), stats


def decompress(blob: bytes, model: str | None = None) -> bytes:
    out: list[bytes] = []
    engine.decompress_stream(io.BytesIO(blob), out.append, model)
    return b"".join(out)


def parse(blob: bytes) -> tuple[Header, list[Block], End, int]:
    """Header, blocks, trailer and the header's size in bytes."""
    src = io.BytesIO(blob)
    header = container.read_header(src)
    header_size = src.tell()
    blocks = []
    while True:
        record = container.read_record(src, header.version)
        if isinstance(record, End):
            return header, blocks, record, header_size
        blocks.append(record)


def pack(header: Header, blocks: list[Block], end: End) -> bytes:
    return (container.pack_header(header)
            + b"".join(container.pack_block(b, header.version) for b in blocks)
            + container.pack_end(end, header.version))


def end_size(blob: bytes) -> int:
    """The bytes of `blob`'s trailer."""
    header, _, end, _ = parse(blob)
    return len(container.pack_end(end, header.version))


def build_arz(model: str, parts: list[tuple[Method, bytes]]) -> bytes:
    """An .arz file with the given block methods, as compress_stream would write it if
    those methods won (so tests do not depend on which method is smallest)."""
    info = zoo.find_model(model)
    codec = engine.load_codec("bytes", info)
    header = Header(codec="bytes", model=info.header_entry, coder=codec.coder_settings())
    blocks = []
    for method, data in parts:
        lanes, payload = 0, data
        if method == Method.MODEL:
            lanes, payload, _ = codec.encode_block(data)
        elif method == Method.ZLIB:
            payload = zlib.compress(data, 9)
        blocks.append(Block(method, len(data), lanes, container.crc32(data), payload))
    whole = b"".join(data for _, data in parts)
    return pack(header, blocks, End(len(whole), hashlib.sha256(whole).digest()))


def decode_checked(blob: bytes, original: bytes, model: str | None) -> ArzipError:
    """Decode a damaged `blob`: it must raise an ArzipError, and whatever reached the write
    callback must be a prefix of `original` (blocks are checked before they are written)."""
    written = bytearray()

    def write(data: bytes) -> None:
        written.extend(data)
        assert original.startswith(bytes(written)), "wrong data was written"

    try:
        engine.decompress_stream(io.BytesIO(blob), write, model)
    except ArzipError as exc:
        assert str(exc)
        return exc
    # Anything else escaping (or success) is a failure of the test.
    pytest.fail(f"damaged file decoded without error ({len(written)} bytes written)")


# --- round trips -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def text6k() -> bytes:
    return make_text(6000)


@pytest.fixture(scope="module")
def text6k_arz(tiny_model, text6k) -> bytes:
    return compress(text6k, tiny_model)[0]


def check_round_trip(data: bytes, model: str, **kwargs) -> bytes:
    blob, stats = compress(data, model, **kwargs)
    assert blob.startswith(MAGIC)
    assert stats.raw_bytes == len(data)
    assert stats.coded_bytes == len(blob)
    assert stats.sha256 == hashlib.sha256(data).hexdigest()
    out: list[bytes] = []
    dstats = engine.decompress_stream(io.BytesIO(blob), out.append, model)
    assert b"".join(out) == data
    assert dstats.raw_bytes == len(data)
    assert dstats.sha256 == hashlib.sha256(data).hexdigest()
    # never larger than the input plus the framing
    _, blocks, _, header_size = parse(blob)
    assert len(blob) <= len(data) + header_size + len(blocks) * RECORD + end_size(blob)
    return blob


@pytest.mark.parametrize("data", [b"", b"\x00", bytes(range(256)),
                                  random.Random(1).randbytes(3000)],
                         ids=["empty", "1-byte", "256", "random-3000"])
def test_round_trip(tiny_model, data):
    check_round_trip(data, tiny_model)


def test_round_trip_text(tiny_model, text6k, text6k_arz):
    assert len(text6k) > 5500 and text6k.decode("utf-8")
    seen: list[int] = []
    out: list[bytes] = []
    stats = engine.decompress_stream(io.BytesIO(text6k_arz), out.append, tiny_model,
                                     progress=seen.append)
    assert b"".join(out) == text6k
    assert sum(stats.methods.values()) == 1
    assert seen and seen[-1] == len(text6k) and seen == sorted(seen)
    assert len(text6k_arz) < len(text6k) // 2


def test_round_trip_several_blocks(tiny_model):
    rng = random.Random(2)
    data = rng.randbytes(256) + make_text(256, seed=3) + bytes(150)
    blob = check_round_trip(data, tiny_model, block_size=256)
    _, blocks, end, _ = parse(blob)
    assert [b.raw_len for b in blocks] == [256, 256, 150]
    assert blocks[0].method == Method.STORED
    assert end.total_len == len(data)
    assert end.sha256 == hashlib.sha256(data).digest()[:8]  # format 12 keeps 64 bits
    assert end.verifies(len(data), hashlib.sha256(data).digest())


def test_exact_multiple_of_block_size(tiny_model):
    data = random.Random(4).randbytes(256)
    blob = check_round_trip(data, tiny_model, block_size=128)
    assert [b.raw_len for b in parse(blob)[1]] == [128, 128]  # no empty trailing block


def test_empty_input_needs_no_model(tiny_model):
    blob, _ = compress(b"", tiny_model)
    assert [b.method for b in parse(blob)[1]] == [Method.STORED]
    assert decompress(blob) == b""  # no model override, none bundled


def test_describe_matches(tiny_model, text6k, text6k_arz):
    report = engine.describe(io.BytesIO(text6k_arz))
    assert report["codec"] == "bytes"
    assert report["original_bytes"] == len(text6k)
    assert report["sha256"] == hashlib.sha256(text6k).hexdigest()[:16]  # format 12: 64 bits
    assert report["sha256_bits"] == 64
    assert report["model"]["name"] == "tiny-test"
    assert report["model"]["sha256"] == hashlib.sha256(Path(tiny_model).read_bytes()).hexdigest()


# --- header and trailer ----------------------------------------------------------------

@pytest.mark.parametrize("blob", [b"", b"\x89AR", b"hello world, not compressed",
                                  b"\x89ARX" + bytes(100)], ids=["empty", "short", "text", "magic"])
def test_bad_magic(blob):
    with pytest.raises(FormatError, match="not an .arz file"):
        decompress(blob)
    with pytest.raises(FormatError, match="not an .arz file"):
        engine.describe(io.BytesIO(blob))


def test_unknown_format_version(text6k_arz):
    head_end = parse(text6k_arz)[3] - 4
    head = bytearray(text6k_arz[:head_end])
    newer = max(container.READABLE_VERSIONS) + 1
    head[4] = newer
    blob = bytes(head) + struct.pack("<I", container.crc32(bytes(head))) + \
        text6k_arz[head_end + 4:]
    with pytest.raises(FormatError, match=f"version {newer}"):
        decompress(blob)


def test_unknown_codec(text6k_arz):
    header, _, _, header_size = parse(text6k_arz)
    header.codec = "nope"
    blob = container.pack_header(header) + text6k_arz[header_size:]
    with pytest.raises(CodecError, match="nope"):
        decompress(blob)


@pytest.mark.parametrize("model", ["x", ["a"], {"name": "a", "version": "1"},
                                   {"name": 1, "version": "1", "sha256": "00"}])
def test_invalid_model_entry(text6k_arz, model):
    header, _, _, header_size = parse(text6k_arz)
    header.model = model
    blob = container.pack_header(header) + text6k_arz[header_size:]
    with pytest.raises(FormatError, match="corrupted header"):
        decompress(blob)




# --- crafted files with valid checksums but inconsistent contents ----------------------

@pytest.fixture(scope="module")
def small() -> bytes:
    """Stored, zlib and (last) model blocks: 256 random bytes, b"ab" * 128, 64 zeros."""
    return random.Random(5).randbytes(256) + b"ab" * 128 + bytes(64)


@pytest.fixture(scope="module")
def small_arz(tiny_model, small) -> bytes:
    return build_arz(tiny_model, [(Method.STORED, small[:256]), (Method.ZLIB, small[256:512]),
                                  (Method.MODEL, small[512:])])


def test_small_file_round_trip(tiny_model, small, small_arz):
    assert decompress(small_arz, tiny_model) == small
    assert [b.method for b in parse(small_arz)[1]] == [Method.STORED, Method.ZLIB, Method.MODEL]


def test_missing_model(tiny_model, small, small_arz):
    sha = hashlib.sha256(Path(tiny_model).read_bytes()).hexdigest()
    exc = decode_checked(small_arz, small, None)  # the model block needs the model
    assert isinstance(exc, ModelError)
    assert "tiny-test@1" in str(exc) and sha in str(exc)


def test_wrong_model(tiny_model, other_tiny_model, small, small_arz):
    sha = hashlib.sha256(Path(tiny_model).read_bytes()).hexdigest()
    exc = decode_checked(small_arz, small, other_tiny_model)
    assert isinstance(exc, ModelError) and sha in str(exc)


def test_unknown_model_path(tmp_path, small, small_arz):
    exc = decode_checked(small_arz, small, str(tmp_path / "no-such-model.pt"))
    assert isinstance(exc, ModelError)


def test_block_data_not_matching_its_crc(tiny_model, small, small_arz):
    header, blocks, end, _ = parse(small_arz)
    blocks[0].payload = bytes([blocks[0].payload[0] ^ 1]) + blocks[0].payload[1:]
    exc = decode_checked(pack(header, blocks, end), small, tiny_model)
    assert isinstance(exc, IntegrityError)


def test_a_damaged_model_block_names_itself_and_both_versions(tiny_model, small, small_arz):
    """A model block whose payload (with a recomputed CRC) decodes to other bytes: the one
    line says which block, that the file is damaged or from an incompatible arzip, and
    both versions."""
    header, blocks, end, _ = parse(small_arz)
    payload = bytearray(blocks[2].payload)
    payload[0] ^= 0x40
    blocks[2].payload = bytes(payload)
    exc = decode_checked(pack(header, blocks, end), small, tiny_model)
    assert isinstance(exc, (FormatError, IntegrityError))
    message = str(exc)
    assert message.startswith("block 2 (original bytes 512-575) is damaged or was written by "
                              "an incompatible arzip")
    assert f"written by arzip {arzip.__version__}" in message
    assert f"format version {container.FORMAT_VERSION}" in message
    assert "\n" not in message


def test_block_length_not_matching(tiny_model, small, small_arz):
    header, blocks, end, _ = parse(small_arz)
    blocks[1].raw_len += 1
    exc = decode_checked(pack(header, blocks, end), small, tiny_model)
    assert isinstance(exc, IntegrityError)


@pytest.mark.parametrize("lanes", [0, 65])
def test_model_block_bad_lanes(tiny_model, small, small_arz, lanes):
    header, blocks, end, _ = parse(small_arz)
    blocks[2].lanes = lanes
    exc = decode_checked(pack(header, blocks, end), small, tiny_model)
    assert isinstance(exc, FormatError) and "lanes" in str(exc)


def test_empty_model_block_with_zero_lanes(tiny_model, small_arz):
    header, _, _, _ = parse(small_arz)
    block = Block(Method.MODEL, 0, 0, container.crc32(b""), b"")
    blob = pack(header, [block], End(0, hashlib.sha256(b"").digest()))
    with pytest.raises(FormatError, match="lanes"):
        decompress(blob, tiny_model)


def test_bad_zlib_payload(tiny_model, small, small_arz):
    header, blocks, end, _ = parse(small_arz)
    blocks[1].payload = b"not zlib data"
    exc = decode_checked(pack(header, blocks, end), small, tiny_model)
    assert isinstance(exc, FormatError)


@pytest.mark.parametrize("field", ["sha256", "total_len"])
def test_trailer_not_matching(tiny_model, small, small_arz, field):
    header, blocks, end, _ = parse(small_arz)
    if field == "sha256":
        end.sha256 = bytes(32)
    else:
        end.total_len += 1
    exc = decode_checked(pack(header, blocks, end), small, tiny_model)
    assert isinstance(exc, IntegrityError)


def test_data_after_trailer(tiny_model, small, small_arz):
    for blob in (small_arz + b"\x00", small_arz + small_arz):
        exc = decode_checked(blob, small, tiny_model)
        assert isinstance(exc, FormatError) and "after the end" in str(exc)


def test_missing_trailer(tiny_model, small, small_arz):
    exc = decode_checked(small_arz[:-end_size(small_arz)], small, tiny_model)
    assert "trailer is missing" in str(exc)


# --- random damage ---------------------------------------------------------------------

def truncation_offsets(blob: bytes) -> list[int]:
    """Every offset in the header and the first blocks; a sample in the costly tail (a
    truncated trailer is only noticed after the model block has been decoded)."""
    last = parse(blob)[1][-1]
    record = len(container.pack_block(last)) - len(last.payload)  # its fields and CRCs
    payload = len(blob) - end_size(blob) - 4 - len(last.payload)  # where its payload starts
    offsets = list(range(payload + 8))
    offsets += list(range(payload + 8, len(blob), 5))
    assert payload - (record - 4) > 0
    return offsets


def test_truncation(tiny_model, small, small_arz):
    offsets = truncation_offsets(small_arz)
    assert offsets[0] == 0 and len(offsets) > len(small_arz) // 2
    for offset in offsets:
        exc = decode_checked(small_arz[:offset], small, tiny_model)
        assert isinstance(exc, FormatError), (offset, exc)


def flip(blob: bytes, position: int, bit: int) -> bytes:
    damaged = bytearray(blob)
    damaged[position] ^= 1 << bit
    return bytes(damaged)


def test_bit_flips_in_header(tiny_model, small, small_arz):
    header_size = parse(small_arz)[3]
    for position in range(header_size):
        for bit in range(8):
            decode_checked(flip(small_arz, position, bit), small, tiny_model)


def test_random_bit_flips(tiny_model, small, small_arz):
    rng = random.Random(6)
    for _ in range(80):
        position, bit = rng.randrange(len(small_arz)), rng.randrange(8)
        decode_checked(flip(small_arz, position, bit), small, tiny_model)


def test_bit_flips_in_blocks_and_trailer(tiny_model, small, small_arz):
    """One flip in every byte of the blocks and in every third byte of the trailer (a
    damaged trailer is only noticed after the model block was decoded)."""
    header_size = parse(small_arz)[3]
    rng = random.Random(7)
    trailer = len(small_arz) - end_size(small_arz)
    for position in [*range(header_size, trailer), *range(trailer, len(small_arz), 3)]:
        decode_checked(flip(small_arz, position, rng.randrange(8)), small, tiny_model)


def test_garbage_blocks(tiny_model, small, small_arz):
    """A valid header followed by random bytes."""
    header_size = parse(small_arz)[3]
    rng = random.Random(8)
    for size in (1, 5, 40, 300):
        for tag in (b"B", b"E", b""):
            blob = small_arz[:header_size] + tag + rng.randbytes(size)
            decode_checked(blob, small, tiny_model)


def test_describe_rejects_damage(small_arz):
    with pytest.raises(FormatError):
        engine.describe(io.BytesIO(small_arz[:-1]))
    header, blocks, end, _ = parse(small_arz)
    end.total_len += 1
    with pytest.raises(FormatError):
        engine.describe(io.BytesIO(pack(header, blocks, end)))


def test_unknown_coder_settings_are_a_format_error(tiny_model):
    packed = io.BytesIO()
    engine.compress_stream(io.BytesIO(b"hello hello hello"), packed, tiny_model)
    header = container.read_header(io.BytesIO(packed.getvalue()))
    header.coder["mixer"]["from_the_future"] = 1
    with pytest.raises(FormatError, match="coder settings"):
        engine.load_codec("bytes", zoo.find_model(tiny_model), header.coder)


@pytest.mark.parametrize("version", [1, 2])
def test_machine_bound_versions_are_read_and_their_model_data_refused(version, tiny_model):
    """Headers of arzip 0.1 (versions 1 and 2) are still read; their classical blocks still
    decode, their model-coded blocks are refused with one line naming the version."""
    header = container.Header(codec="bytes", model={"name": "m", "version": "1", "sha256": "ab"},
                              coder={"type": "range"}, version=version, writer="arzip 0.1")
    packed = container.pack_header(header)
    assert packed[4] == version
    assert container.read_header(io.BytesIO(packed)) == header and not header.portable
    data = b"abc" * 100
    classical = container.Block(container.Method.ZLIB, len(data), 0, container.crc32(data),
                                zlib.compress(data))
    end = container.pack_end(container.End(len(data), hashlib.sha256(data).digest()), version)
    out = io.BytesIO()
    engine.decompress_stream(io.BytesIO(packed + container.pack_block(classical, version) + end),
                             out.write)
    assert out.getvalue() == data
    model = container.Block(container.Method.MODEL, len(data), 1, container.crc32(data),
                            b"\0\0\0\1")
    with pytest.raises(FormatError, match=f"format version {version}.*arzip 0.1"):
        engine.decompress_stream(io.BytesIO(packed + container.pack_block(model, version) + end),
                                 None,
                                 tiny_model)


def test_new_files_are_portable_and_name_their_writer(tiny_model):
    packed = io.BytesIO()
    engine.compress_stream(io.BytesIO(b"hello hello hello"), packed, tiny_model)
    header = container.read_header(io.BytesIO(packed.getvalue()))
    assert header.version == container.FORMAT_VERSION == 16 and header.portable
    assert header.writer == f"arzip {arzip.__version__}"


@pytest.mark.parametrize("raw_len,lanes,payload_len", [(0, 0, 0), (127, 1, 127),
                                                      (128, 512, 128), (1 << 20, 0, 16384)])
def test_format_11_records_are_compact_and_read_back(raw_len, lanes, payload_len):
    """Format 11: a record is its method, three varints, the raw data's CRC, the payload
    and one CRC of all of it; the trailer has a varint length. Earlier formats read back
    their fixed-width records."""
    block = Block(Method.MODEL, raw_len, lanes, 0xDEADBEEF, bytes(range(256)) * 64)
    block.payload = block.payload[:payload_len]
    end = End(raw_len, hashlib.sha256(b"x").digest())
    for version in (10, 11, 12):
        packed = container.pack_block(block, version) + container.pack_end(end, version)
        src = io.BytesIO(packed)
        assert container.read_record(src, version) == block
        kept = End(raw_len, end.sha256[:container.digest_bytes(version)])
        assert container.read_record(src, version) == kept
    varints = sum(len(container.varint(n)) for n in (raw_len, lanes, payload_len))
    assert len(container.pack_block(block, 11)) == 1 + varints + 4 + payload_len + 4
    assert len(container.pack_end(end, 11)) == 1 + len(container.varint(raw_len)) + 32 + 4
    assert len(container.pack_end(end, 12)) == 1 + len(container.varint(raw_len)) + 8 + 4
    assert len(container.pack_block(block, 10)) == 24 + payload_len
    for flip in range(1 + varints + 4 + min(payload_len, 3)):  # every field is checked
        damaged = bytearray(container.pack_block(block, 11))
        damaged[flip] ^= 0x04
        with pytest.raises(FormatError):
            container.read_record(io.BytesIO(bytes(damaged) + bytes(40)), 11)
    with pytest.raises(FormatError, match="implausible"):
        container.read_record(io.BytesIO(b"\x03" + b"\xff" * 12), 11)


def test_format_12_trailers_keep_64_bits_of_the_sha256():
    """Format 12's trailer holds the first 8 bytes of the original's sha256: decoded data
    verifies against them (and its length); a change in any of those bits fails."""
    digest = hashlib.sha256(b"original").digest()
    end = container.read_record(io.BytesIO(container.pack_end(End(8, digest), 12)), 12)
    assert end == End(8, digest[:8]) and end.verifies(8, digest)
    assert not end.verifies(9, digest)
    for bit in range(64):
        damaged = bytearray(digest)
        damaged[bit // 8] ^= 1 << (bit % 8)
        assert not end.verifies(8, bytes(damaged))
    old = container.read_record(io.BytesIO(container.pack_end(End(8, digest), 11)), 11)
    assert old.sha256 == digest and not old.verifies(8, digest[:31] + b"\0")


def test_format_7_headers_are_raw_deflate_against_their_dictionary():
    """Version 7 codes the same header JSON in fewer bytes than version 6 (its dictionary
    holds each codec's default header), and each version reads back its own."""
    meta = dict(codec="audio", model={"name": "m", "version": "1", "sha256": "ab" * 32},
                coder={"chunk": 2048, "schedule": "lanes-1"}, codec_header={"rate": 8000})
    sizes = {}
    for version in (6, 7):
        packed = container.pack_header(container.Header(**meta, version=version))
        back = container.read_header(io.BytesIO(packed))
        assert (back.version, back.coder, back.model) == (version, meta["coder"], meta["model"])
        sizes[version] = len(packed)
    assert sizes[7] <= sizes[6] - 10  # no zlib wrapper (2 + 4 bytes) nor dictionary id (4)


# --- which part is damaged (arzip test --json) -----------------------------------------

def verify(blob: bytes, model: str | None = None) -> dict:
    return engine.verify_stream(io.BytesIO(blob), model)


def test_verify_reports_every_block_and_goes_on_after_a_damaged_one(tiny_model, small,
                                                                      small_arz):
    report = verify(small_arz, tiny_model)
    assert report["ok"] and report["bytes"] == len(small)
    assert [b["status"] for b in report["blocks"]] == ["ok", "ok", "ok"]
    assert [b["span"] for b in report["blocks"]] == [
        "original bytes 0-255", "original bytes 256-511", "original bytes 512-575"]
    header, blocks, end, _ = parse(small_arz)
    blocks[1].payload = b"\x78\x9c" + bytes(8)  # a broken zlib stream behind a valid CRC
    report = verify(pack(header, blocks, end), tiny_model)
    assert not report["ok"] and "1 of 3 blocks" in report["error"]
    assert [b["status"] for b in report["blocks"]] == ["ok", "damaged", "ok"]
    assert report["blocks"][1]["error"].startswith("block 1 (original bytes 256-511)")


def test_verify_stops_where_a_record_is_unreadable(tiny_model, small_arz):
    _, _, _, header_size = parse(small_arz)
    blob = bytearray(small_arz)
    blob[header_size + 3] ^= 1  # the second field of block 0's record: its CRC fails
    report = verify(bytes(blob), tiny_model)
    assert not report["ok"]
    assert [b["status"] for b in report["blocks"]] == ["unreadable"]
    assert report["blocks"][0]["span"] == "from original byte 0"


def test_verify_of_a_structured_file_marks_what_follows_the_damage(tiny_image_model):
    from PIL import Image

    rng = random.Random(2)
    image = Image.frombytes("RGB", (40, 30), bytes(rng.randrange(256) for _ in range(3600)))
    png = io.BytesIO()
    image.save(png, "PNG")
    blob, _ = compress(png.getvalue(), tiny_image_model, block_size=1 << 20,
                       classical_fallback=False)
    header, blocks, end, _ = parse(blob)
    assert report_ok(verify(blob, tiny_image_model))
    payload = bytearray(blocks[1].payload)
    payload[len(payload) // 2] ^= 0x10
    blocks[1].payload = bytes(payload)
    report = verify(pack(header, blocks, end), tiny_image_model)
    statuses = [b["status"] for b in report["blocks"]]
    assert not report["ok"] and statuses[:2] == ["ok", "damaged"]
    assert set(statuses[2:]) <= {"not checked"} and len(statuses) == len(blocks)
    assert report["error"].startswith("block 1 (decoded bytes 0-")


def report_ok(report: dict) -> bool:
    return report["ok"] and all(b["status"] == "ok" for b in report["blocks"])
