"""Hostile input: mutated archives and lying size fields.

The fuzz target feeds mutations of the golden archives (every codec, the shipped models) to
the container parser and each codec's decoder. Every case must either restore the exact
original or raise arzip's own error (an `ArzipError`): no other exception, no case over
`CASE_SECONDS`, no case allocating more than `CASE_BYTES` (tracemalloc, which sees Python's
and numpy's allocations). Two families: raw mutations (truncations, set/flip bytes, splices,
duplicated ranges, garbage tails), which the checksums mostly stop early, and payload
mutations with the block checksums recomputed, which reach the codecs' decoders with
damaged data. CI runs about a minute of it; a release runs longer:

    ARZIP_FUZZ_EXAMPLES=5000 python -m pytest -q tests/test_fuzz.py

Crafted size fields (a block or header length far beyond the file, an image or audio size
far beyond its blocks) must fail fast and small: measured in a subprocess by its peak RSS.
"""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import time
import tracemalloc
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arzip import container, engine
from arzip.container import Block, End
from arzip.errors import ArzipError

GOLDEN = Path(__file__).resolve().parent / "golden"
MANIFEST = json.loads((GOLDEN / "manifest.json").read_text())
NAMES = sorted(MANIFEST)
EXAMPLES = int(os.environ.get("ARZIP_FUZZ_EXAMPLES", "60"))
CASE_SECONDS = 30.0  # a damaged block decodes at most its declared length
CASE_BYTES = 512 << 20  # fixed model state: format 5's context tables are about 370 MB


def archive(name: str) -> bytes:
    return (GOLDEN / name).read_bytes()


def original(name: str) -> bytes:
    return (GOLDEN / MANIFEST[name]["original"]).read_bytes()


def parse(blob: bytes) -> tuple[container.Header, list[Block], End]:
    src = io.BytesIO(blob)
    header, blocks = container.read_header(src), []
    while not isinstance(record := container.read_record(src, header.version), End):
        blocks.append(record)
    return header, blocks, record


def pack(header: container.Header, blocks: list[Block], end: End) -> bytes:
    return (container.pack_header(header)
            + b"".join(container.pack_block(b, header.version) for b in blocks)
            + container.pack_end(end, header.version))


def check_case(name: str, blob: bytes) -> None:
    """Decode `blob`: the original, or an ArzipError, in bounded time and memory."""
    tracemalloc.start()
    start = time.perf_counter()
    out = io.BytesIO()
    try:
        engine.decompress_stream(io.BytesIO(blob), out.write)
        restored = out.getvalue()
    except ArzipError:
        restored = None
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert time.perf_counter() - start < CASE_SECONDS
    assert peak < CASE_BYTES, peak
    if restored is not None:
        assert restored == original(name), "a damaged archive decoded to wrong data"


@st.composite
def raw_mutation(draw) -> tuple[str, bytes]:
    name = draw(st.sampled_from(NAMES))
    data = bytearray(archive(name))
    for _ in range(draw(st.integers(1, 3))):
        n = len(data)
        op = draw(st.sampled_from(["truncate", "set", "flip", "splice", "duplicate",
                                   "delete", "tail"]))
        i = draw(st.integers(0, max(0, n - 1)))
        j = draw(st.integers(i, min(n, i + 64)))
        if op == "truncate":
            del data[i:]
        elif op == "set" and n:
            data[i] = draw(st.integers(0, 255))
        elif op == "flip" and n:
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "splice":
            k = draw(st.integers(0, max(0, n - 1)))
            data[k:k + (j - i)] = data[i:j]
        elif op == "duplicate":
            data[j:j] = data[i:j]
        elif op == "delete":
            del data[i:j]
        else:
            data += draw(st.binary(min_size=1, max_size=64))
    return name, bytes(data)


@st.composite
def payload_mutation(draw) -> tuple[str, bytes]:
    """A damaged block payload behind valid checksums: the codec's decoder sees it."""
    name = draw(st.sampled_from(NAMES))
    header, blocks, end = parse(archive(name))
    k = draw(st.integers(0, len(blocks) - 1))
    payload = bytearray(blocks[k].payload)
    op = draw(st.sampled_from(["flip", "set", "truncate", "extend", "zero"]))
    i = draw(st.integers(0, max(0, len(payload) - 1)))
    if op == "flip" and payload:
        payload[i] ^= 1 << draw(st.integers(0, 7))
    elif op == "set" and payload:
        payload[i] = draw(st.integers(0, 255))
    elif op == "truncate":
        del payload[i:]
    elif op == "extend":
        payload += draw(st.binary(min_size=1, max_size=32))
    else:
        payload[i:] = bytes(len(payload) - i)
    blocks[k] = Block(blocks[k].method, blocks[k].raw_len, blocks[k].lanes, blocks[k].raw_crc,
                      bytes(payload))
    return name, pack(header, blocks, end)


FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture(scope="module", autouse=True)
def warm_models():
    """Load every codec and compile its loops once, outside the timed cases."""
    for name in NAMES:
        check_case(name, archive(name))


@FUZZ
@given(raw_mutation())
def test_raw_mutations_restore_or_fail_cleanly(case):
    check_case(*case)


@FUZZ
@given(payload_mutation())
def test_damaged_payloads_behind_valid_checksums_fail_cleanly(case):
    check_case(*case)


# --- lying size fields ------------------------------------------------------------------

def crafted() -> dict[str, bytes]:
    """Archives whose size fields promise far more than the file holds."""
    text = archive("text.txt.v3.arz")
    header, blocks, end = parse(text)
    head = container.pack_header(header)
    fields = struct.pack("<BIHIII", int(blocks[0].method), blocks[0].raw_len, blocks[0].lanes,
                         0xFFFFFFF0, blocks[0].raw_crc, 0)
    record = b"B" + fields
    huge_payload = head + record + struct.pack("<I", zlib.crc32(record)) + b"x" * 100
    json_len = b"\x89ARZ" + struct.pack("<BI", container.FORMAT_VERSION, 1 << 20) + b"{}"
    stored = Block(container.Method.STORED, 1 << 24, 1, 0, b"tiny")
    out = {"payload length 4 GiB": huge_payload, "header length 1 MiB": json_len,
           "stored block of 16 MiB": pack(header, [stored], End(1 << 24, end.sha256))}
    for name, key, value in (("gradient.png.v3.arz", "height", 16384),
                             ("stereo.wav.v3.arz", "frames", 1 << 40)):
        h, b, e = parse(archive(name))
        h.codec_header = dict(h.codec_header, **{key: value})
        if key == "height":
            h.codec_header["width"] = 4096  # 2^26 pixels: the largest image arzip takes
        out[f"{name} {key} {value}"] = pack(h, b, e)
    return out


def test_lying_sizes_fail_fast_with_little_memory(tmp_path):
    cases = crafted()
    for i, blob in enumerate(cases.values()):
        (tmp_path / f"{i}.arz").write_bytes(blob)
    script = f"""
import io, resource, sys
from arzip import engine
from arzip.errors import FormatError, IntegrityError
from pathlib import Path
GOLDEN = Path({str(GOLDEN)!r})
for name in ("gradient.png.v3.arz", "stereo.wav.v3.arz", "text.txt.v3.arz"):
    engine.decompress_stream(io.BytesIO((GOLDEN / name).read_bytes()), None)  # warm up
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
for i in range({len(cases)}):
    try:
        with open(Path({str(tmp_path)!r}, f"{{i}}.arz"), "rb") as src:  # as the CLI reads
            engine.decompress_stream(src, None)
        print(i, "decoded")
    except (FormatError, IntegrityError) as exc:
        print(i, "refused:", exc)
print("grew_kb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base)
"""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == len(cases) + 1, done.stdout
    for line, what in zip(lines[:-1], cases, strict=True):
        assert "refused" in line, (what, line)
    grew_mb = int(lines[-1].split()[1]) / 1024
    assert grew_mb < 64, (grew_mb, done.stdout)
    print(done.stdout)
    assert time.perf_counter() - start < 120
