"""The Python API: the README's "Use from Python" block runs as written, and the calls
behave like lzma/zstandard's (errors are arzip's own, file objects stream)."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import pytest

import arzip

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_block() -> str:
    text = README.read_text()
    section = text[text.index("## Use from Python"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_readme_example_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exec(compile(readme_block(), "README.md", "exec"), {})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy.arz", "notes.txt",
                                                          "notes.txt.arz"]


def test_round_trips_and_kinds(tiny_model):
    data = b"arzip as a library. " * 300
    assert arzip.decompress(arzip.compress(data, model=tiny_model), model=tiny_model) == data
    blob = arzip.compress(data, kind="bytes", level=0)
    assert {b["method"] for b in arzip.info(blob)["blocks"]} <= {"zlib", "lzma", "stored"}
    blob = arzip.compress(data, kind="bytes", level=1)  # context mixing, no network
    assert {b["method"] for b in arzip.info(blob)["blocks"]} <= {"zlib", "lzma", "stored", "cm"}
    assert arzip.decompress(blob) == data
    for bad in (10, -1, "5"):
        with pytest.raises(arzip.ArzipError, match="level"):
            arzip.compress(data, level=bad)
    with pytest.raises(arzip.ArzipError, match="unknown kind"):
        arzip.compress(data, kind="video")


@pytest.mark.parametrize("damage", [lambda b: b[:-3], lambda b: b[:20],
                                    lambda b: b[:40] + bytes([b[40] ^ 1]) + b[41:],
                                    lambda b: b"not an archive"])
def test_errors_are_arzips_own(damage):
    blob = arzip.compress(b"some bytes that will be damaged " * 50, level=0)
    with pytest.raises(arzip.ArzipError) as caught:
        arzip.decompress(damage(blob))
    assert isinstance(caught.value, (arzip.FormatError, arzip.IntegrityError))


def test_open_streams_reads_and_partial_closes(tmp_path):
    data = os.urandom(3 << 20)  # three blocks, stored (random)
    path = tmp_path / "r.arz"
    with arzip.open(path, "wb") as f:
        for i in range(0, len(data), 1 << 18):
            f.write(data[i:i + (1 << 18)])
    with arzip.open(path) as f:
        assert f.read(10) == data[:10]
        chunks = iter(lambda: f.read(1 << 20), b"")
        assert b"".join(chunks) == data[10:]
    with arzip.open(path) as f:  # closing early stops the decoding thread
        f.read(5)
    buffer = io.BytesIO(path.read_bytes())
    with arzip.open(buffer) as f:  # a file object works too
        assert f.read() == data
    damaged = bytearray(path.read_bytes())
    damaged[-10] ^= 1  # in the sha256 of the trailer
    with arzip.open(io.BytesIO(bytes(damaged))) as f, pytest.raises(arzip.ArzipError):
        f.read()
    with pytest.raises(FileExistsError):
        arzip.open(path, "xb")


def test_files_are_atomic_and_never_overwritten(tmp_path):
    src = tmp_path / "a.bin"
    src.write_bytes(b"x" * 1000)
    arzip.compress_file(src, level=0)
    with pytest.raises(arzip.ArzipError, match="already exists"):
        arzip.compress_file(src, level=0)
    with pytest.raises(arzip.ArzipError, match="same file"):
        arzip.decompress_file(tmp_path / "a.bin.arz", tmp_path / "a.bin.arz")
    (tmp_path / "a.bin").unlink()
    arzip.decompress_file(tmp_path / "a.bin.arz")
    assert src.read_bytes() == b"x" * 1000
    assert arzip.test_file(tmp_path / "a.bin.arz", blocks=True)["ok"]


def test_torch_runs_one_thread_while_coding_then_returns_to_its_setting(monkeypatch):
    """Inside coding, torch's kernels (the encoder's int8 products) run one thread, also
    when torch loads after coding began (the int8 product asks for it); the caller's
    setting comes back afterwards."""
    import sys

    import numpy as np
    import torch

    from arzip import exact, parallel

    for name in parallel.BLAS_ENV:
        monkeypatch.delenv(name, raising=False)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    seen = []
    real = torch._int_mm
    monkeypatch.setattr(torch, "_int_mm", lambda a, b: (seen.append(torch.get_num_threads()),
                                                        real(a, b))[1])
    monkeypatch.setitem(exact.INT8_PRODUCTS, "on", True)
    layer = exact.IntLinear(np.random.default_rng(1).normal(0, 1, (64, 256)), 127)
    x = np.random.default_rng(2).integers(-127, 128, (300, 256)).astype(np.float64)
    try:
        with parallel.one_blas_thread():
            layer.acc(x)
        assert seen == [1] and torch.get_num_threads() == 2
        with monkeypatch.context() as hidden:
            hidden.delitem(sys.modules, "torch")  # not loaded yet when coding starts
            coding = parallel.one_blas_thread()
            coding.__enter__()
        try:
            assert torch.get_num_threads() == 2
            layer.acc(x)
        finally:
            coding.__exit__(None, None, None)
        assert seen == [1, 1] and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_blas_runs_one_thread_while_coding_then_returns_to_its_setting(monkeypatch):
    """Coding holds numpy's BLAS to one thread (arzip splits the small products itself)
    and gives the caller's setting back afterwards; a thread count the user set wins."""
    from threadpoolctl import threadpool_info, threadpool_limits

    from arzip import engine, parallel

    def blas() -> list[int]:
        return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]

    for name in parallel.BLAS_ENV:
        monkeypatch.delenv(name, raising=False)
    seen = []
    real = engine._classical  # every block tries the classical methods
    monkeypatch.setattr(engine, "_classical", lambda data: (seen.append(blas()), real(data))[1])
    with threadpool_limits(limits=2, user_api="blas"):
        before = blas()
        engine.compress_stream(io.BytesIO(b"hello " * 50), io.BytesIO(), use_model=False)
        assert seen and all(n == 1 for n in seen[0]) and blas() == before
        monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
        seen.clear()
        engine.compress_stream(io.BytesIO(b"hello " * 50), io.BytesIO(), use_model=False)
        assert seen[0] == before
