"""The `arzip` command line: file conventions, exit codes, stdout/stderr discipline.

Most tests use click's CliRunner (stdout and stderr are captured separately); a few run
`python -m arzip.cli` in a subprocess with real pipes. Inputs are small (the coder runs
the model step by step) and the tiny test model is always passed with -m.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import arzip
from arzip import container, engine, zoo
from arzip.cli import main
from arzip.container import Block, End, Header, Method
from arzip.errors import ArzipError
from arzip.fileio import refuse_terminal

SENTENCES = [
    "Grüße aus Köln: naïve café, crème brûlée and a smörgåsbord. ",
    "The quick brown fox jumps over the lazy dog. ",
    "Ελληνικά, русский текст и 日本語のテキスト — 数据压缩. ",
    "¿Qué tal? Ça va très bien, merci! ",
]
SAMPLE = "".join(random.Random(0).choice(SENTENCES) for _ in range(8)).encode()[:300]
SAMPLE = SAMPLE.decode("utf-8", "ignore").encode()


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture(scope="module")
def sample_arz(tiny_model) -> bytes:
    """SAMPLE as one model-coded block (whichever method compress would pick), so that
    decoding it needs the model."""
    info = zoo.find_model(tiny_model)
    codec = engine.load_codec("bytes", info)
    lanes, payload, _ = codec.encode_block(SAMPLE)
    header = Header(codec="bytes", model=info.header_entry, coder=codec.coder_settings())
    block = Block(Method.MODEL, len(SAMPLE), lanes, container.crc32(SAMPLE), payload)
    return (container.pack_header(header) + container.pack_block(block)
            + container.pack_end(End(len(SAMPLE), hashlib.sha256(SAMPLE).digest())))


@pytest.fixture
def model_wins(monkeypatch) -> None:
    """Offer compress only the stored fallback, so text gets a model-coded block (whose
    decoding needs the model) whatever zlib/lzma would achieve on it."""
    monkeypatch.setattr(engine, "_classical", lambda data: [(Method.STORED, data)])
    monkeypatch.setattr(engine, "DEFAULT", engine.Effort(cm=False))


def block_methods(blob: bytes) -> list[str]:
    return [b["method"] for b in engine.describe(io.BytesIO(blob))["blocks"]]


@pytest.fixture
def sample(tmp_path) -> Path:
    path = tmp_path / "sample.txt"
    path.write_bytes(SAMPLE)
    return path


def decode(blob: bytes, model: str) -> bytes:
    out: list[bytes] = []
    engine.decompress_stream(io.BytesIO(blob), out.append, model)
    return b"".join(out)


def assert_one_error_line(result, *words: str) -> None:
    """Exit status 1 from an ArzipError/OSError: one "arzip: ..." line, no traceback."""
    assert result.exit_code == 1
    # CliRunner also reports exit status 1 for an uncaught exception
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        repr(result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("arzip: "), lines[0]
    for word in words:
        assert word in lines[0]


def corrupt_late(blob: bytes) -> bytes:
    """A wrong sha256 in the trailer (with a valid crc): found only after all the data."""
    src = io.BytesIO(blob)
    header = container.read_header(src)
    while not isinstance(record := container.read_record(src, header.version), End):
        pass
    trailer = len(blob) - len(container.pack_end(record, header.version))
    return blob[:trailer] + container.pack_end(End(record.total_len, bytes(32)),
                                               header.version)


def corrupt_early(blob: bytes) -> bytes:
    """A flipped bit in the first block's payload."""
    damaged = bytearray(blob)
    damaged[len(blob) - 50] ^= 0x10
    return bytes(damaged)


# --- compress / decompress -------------------------------------------------------------

def test_compress_then_decompress(runner, tiny_model, sample, tmp_path, model_wins):
    sample.chmod(0o640)
    result = runner.invoke(main, ["compress", "-m", tiny_model, str(sample)])
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes == b""
    arz = tmp_path / "sample.txt.arz"
    assert block_methods(arz.read_bytes()) == ["netcm"]
    assert arz.is_file() and sample.read_bytes() == SAMPLE  # input kept
    assert arz.read_bytes().startswith(container.MAGIC)
    assert arz.stat().st_mode & 0o777 == 0o640  # permissions follow the input
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sample.txt", "sample.txt.arz"]

    (tmp_path / "out").mkdir()
    target = tmp_path / "out" / "restored.bin"
    result = runner.invoke(main, ["decompress", "-m", tiny_model, str(arz), "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert target.read_bytes() == SAMPLE and arz.is_file()
    assert result.stdout_bytes == b""

    sample.unlink()  # the default output name drops the suffix
    result = runner.invoke(main, ["decompress", "-m", tiny_model, str(arz)])
    assert result.exit_code == 0, result.output
    assert sample.read_bytes() == SAMPLE


@pytest.mark.parametrize("verbose", [[], ["-v"]])
def test_compress_to_stdout(runner, tiny_model, sample, tmp_path, verbose):
    result = runner.invoke(main, ["compress", *verbose, "-c", "-m", tiny_model, str(sample)])
    assert result.exit_code == 0, result.stderr
    assert result.stdout_bytes.startswith(container.MAGIC)
    assert decode(result.stdout_bytes, tiny_model) == SAMPLE  # nothing else on stdout
    assert [p.name for p in tmp_path.iterdir()] == ["sample.txt"]
    if verbose:
        assert "->" in result.stderr


def test_decompress_to_stdout(runner, tiny_model, sample_arz, tmp_path):
    arz = tmp_path / "a.arz"
    arz.write_bytes(sample_arz)
    result = runner.invoke(main, ["decompress", "-c", "-m", tiny_model, str(arz)])
    assert result.exit_code == 0, result.stderr
    assert result.stdout_bytes == SAMPLE
    assert [p.name for p in tmp_path.iterdir()] == ["a.arz"]


def test_stdin_to_stdout(runner, tiny_model, sample_arz):
    result = runner.invoke(main, ["decompress", "-m", tiny_model], input=sample_arz)
    assert result.exit_code == 0, result.stderr
    assert result.stdout_bytes == SAMPLE
    result = runner.invoke(main, ["compress", "-m", tiny_model, "-"], input=b"abc")
    assert result.exit_code == 0, result.stderr
    assert decode(result.stdout_bytes, tiny_model) == b"abc"


def test_stdin_to_file(runner, tiny_model, tmp_path):
    target = tmp_path / "in.arz"
    result = runner.invoke(main, ["compress", "-m", tiny_model, "-o", str(target)],
                           input=b"abc")
    assert result.exit_code == 0, result.stderr
    assert decode(target.read_bytes(), tiny_model) == b"abc"
    umask = os.umask(0o022)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's 0o600


def test_refuse_to_overwrite(runner, tiny_model, sample, sample_arz, tmp_path):
    arz = tmp_path / "sample.txt.arz"
    arz.write_bytes(b"keep me")
    result = runner.invoke(main, ["compress", "-m", tiny_model, str(sample)])
    assert_one_error_line(result, "already exists")
    assert arz.read_bytes() == b"keep me"

    result = runner.invoke(main, ["compress", "-f", "-m", tiny_model, str(sample)])
    assert result.exit_code == 0, result.stderr
    assert decode(arz.read_bytes(), tiny_model) == SAMPLE

    sample.write_bytes(b"keep me too")
    result = runner.invoke(main, ["decompress", "-m", tiny_model, str(arz)])
    assert_one_error_line(result, "already exists")
    assert sample.read_bytes() == b"keep me too"
    result = runner.invoke(main, ["decompress", "--force", "-m", tiny_model, str(arz)])
    assert result.exit_code == 0, result.stderr
    assert sample.read_bytes() == SAMPLE
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sample.txt", "sample.txt.arz"]


def test_same_input_and_output(runner, tiny_model, sample):
    result = runner.invoke(main, ["compress", "-f", "-m", tiny_model, str(sample),
                                  "-o", str(sample)])
    assert_one_error_line(result, "same file")
    assert sample.read_bytes() == SAMPLE


def test_rm_after_success(runner, tiny_model, sample, tmp_path, model_wins):
    # --rm verifies the output first, which needs the model given with -m
    result = runner.invoke(main, ["compress", "--rm", "-m", tiny_model, str(sample)])
    assert result.exit_code == 0, result.stderr
    arz = tmp_path / "sample.txt.arz"
    assert not sample.exists() and arz.is_file()
    assert block_methods(arz.read_bytes()) == ["netcm"]
    result = runner.invoke(main, ["decompress", "--rm", "-m", tiny_model, str(arz)])
    assert result.exit_code == 0, result.stderr
    assert sample.read_bytes() == SAMPLE and not arz.exists()


def test_rm_keeps_input_on_failure(runner, tiny_model, sample_arz, tmp_path):
    arz = tmp_path / "bad.arz"
    arz.write_bytes(corrupt_late(sample_arz))
    result = runner.invoke(main, ["decompress", "--rm", "-m", tiny_model, str(arz)])
    assert_one_error_line(result, "sha256")
    assert arz.is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["bad.arz"]


@pytest.mark.parametrize("damage", ["early", "late", "truncated", "missing-model"])
def test_failed_decompress_leaves_nothing(runner, tiny_model, sample_arz, tmp_path, damage):
    arz = tmp_path / "bad.txt.arz"
    blob = {"early": corrupt_early, "late": corrupt_late, "truncated": lambda b: b[:-20],
            "missing-model": lambda b: b}[damage](sample_arz)
    arz.write_bytes(blob)
    model = [] if damage == "missing-model" else ["-m", tiny_model]
    result = runner.invoke(main, ["decompress", *model, str(arz)])
    assert_one_error_line(result, "needs model tiny-test@1" if model == [] else "")
    assert [p.name for p in tmp_path.iterdir()] == ["bad.txt.arz"]  # no output, no temp
    assert result.stdout_bytes == b""


def test_missing_input(runner, tiny_model, tmp_path):
    for command in ("compress", "decompress"):
        result = runner.invoke(main, [command, "-m", tiny_model, str(tmp_path / "no.arz")])
        assert_one_error_line(result, "cannot read")
    assert list(tmp_path.iterdir()) == []


def test_missing_output_folder(runner, tiny_model, sample, tmp_path):
    target = tmp_path / "nowhere" / "out.arz"
    result = runner.invoke(main, ["compress", "-m", tiny_model, str(sample), "-o", str(target)])
    assert_one_error_line(result, "does not exist")
    assert not target.parent.exists()


def test_unwritable_output_folder(runner, tiny_model, sample, tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("arzip.fileio.tempfile.mkstemp", refuse)
    result = runner.invoke(main, ["compress", "-m", tiny_model, str(sample)])
    assert_one_error_line(result, "cannot write", "Permission denied")


def test_write_error_leaves_nothing(runner, tiny_model, sample, tmp_path, monkeypatch):
    def disk_full(src, dst, *args, **kwargs):
        dst.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(engine, "compress_stream", disk_full)
    result = runner.invoke(main, ["compress", "-m", tiny_model, str(sample)])
    assert_one_error_line(result, "No space left on device")
    assert [p.name for p in tmp_path.iterdir()] == ["sample.txt"]


def test_unknown_suffix(runner, tiny_model, sample):
    result = runner.invoke(main, ["decompress", "-m", tiny_model, str(sample)])
    assert_one_error_line(result, "unknown suffix")


def test_input_is_a_directory(runner, tiny_model, tmp_path):
    (tmp_path / "d").mkdir()
    result = runner.invoke(main, ["compress", "-m", tiny_model, str(tmp_path / "d")])
    assert_one_error_line(result, "directory")


@pytest.mark.parametrize("args", [
    ["compress", "-o", "x.arz", "a", "b"],
    ["compress", "--bogus", "a"],
    ["compress", "-c", "-o", "x.arz", "a"],
    ["compress", "-c", "a", "b"],
    ["decompress", "-c", "--rm", "a.arz"],
    ["info"],
    ["frobnicate"],
])
def test_usage_errors(runner, tmp_path, monkeypatch, args):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(main, args)
    assert result.exit_code == 2, result.output
    assert result.stdout_bytes == b""
    assert list(tmp_path.iterdir()) == []


def test_version_and_help(runner):
    result = runner.invoke(main, ["--version"])
    assert result.exit_code == 0 and "0." in result.output
    result = runner.invoke(main, ["compress", "--help"])
    assert result.exit_code == 0 and "--force" in result.output


# --- test / info -----------------------------------------------------------------------

def test_test_command(runner, tiny_model, sample_arz, tmp_path):
    good, bad = tmp_path / "good.arz", tmp_path / "bad.arz"
    good.write_bytes(sample_arz)
    bad.write_bytes(corrupt_late(sample_arz))
    result = runner.invoke(main, ["test", "-m", tiny_model, str(good)])
    assert result.exit_code == 0, result.stderr
    assert result.stdout_bytes == b""
    result = runner.invoke(main, ["test", "-m", tiny_model, str(bad)])
    assert_one_error_line(result, "sha256")
    result = runner.invoke(main, ["test", str(good)])  # the model is not installed
    assert_one_error_line(result, "tiny-test@1")
    result = runner.invoke(main, ["test", "--json", "-m", tiny_model, str(good), str(bad)])
    assert result.exit_code == 1
    good_report, bad_report = json.loads(result.stdout)
    assert good_report["ok"] and {b["status"] for b in good_report["blocks"]} == {"ok"}
    assert not bad_report["ok"] and bad_report["file"] == str(bad)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.arz", "good.arz"]


def test_info(runner, tiny_model, sample_arz, tmp_path):
    arz = tmp_path / "s.arz"
    arz.write_bytes(sample_arz)
    result = runner.invoke(main, ["info", "--json", str(arz)])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["codec"] == "bytes"
    assert report["original_bytes"] == len(SAMPLE)
    assert report["sha256"] == hashlib.sha256(SAMPLE).hexdigest()[:16]  # format 12: 64 bits
    assert report["compressed_bytes"] == len(sample_arz)
    assert report["format_version"] == container.FORMAT_VERSION
    assert report["model"]["name"] == "tiny-test"
    assert report["model"]["sha256"] == hashlib.sha256(
        Path(tiny_model).read_bytes()).hexdigest()
    assert sum(b["raw_bytes"] for b in report["blocks"]) == len(SAMPLE)

    assert report["portable"] and report["writer"] == f"arzip {arzip.__version__}"

    result = runner.invoke(main, ["info", str(arz)])
    assert result.exit_code == 0, result.stderr
    assert "bytes" in result.stdout
    kept = hashlib.sha256(SAMPLE).hexdigest()[:16]  # format 12's trailer: 64 bits
    assert f"sha256      {kept}… (first 64 bits)" in result.stdout
    assert "portable: exact arithmetic, decodes on any machine" in result.stdout

    result = runner.invoke(main, ["info", "-"], input=sample_arz)
    assert result.exit_code == 0, result.stderr
    assert f"original    {len(SAMPLE)} bytes" in result.stdout


def test_info_on_bad_files(runner, sample_arz, tmp_path):
    bad = tmp_path / "bad.arz"
    bad.write_bytes(sample_arz[:-3])
    result = runner.invoke(main, ["info", "--json", str(bad)])
    assert_one_error_line(result, "truncated")
    text = tmp_path / "t.txt"
    text.write_bytes(b"plain text")
    result = runner.invoke(main, ["info", str(text)])
    assert_one_error_line(result, "not an .arz file")


# --- terminals -------------------------------------------------------------------------

class FakeStream(io.BytesIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def test_refuse_terminal():
    with pytest.raises(ArzipError, match="terminal"):
        refuse_terminal(FakeStream(True), "compressed data")
    refuse_terminal(FakeStream(False), "compressed data")
    refuse_terminal(object(), "compressed data")  # no isatty at all


# --- real processes and pipes ----------------------------------------------------------

def run_cli(args: list[str], data: bytes, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    return subprocess.run([sys.executable, "-m", "arzip.cli", *args], input=data, cwd=cwd,
                          capture_output=True, timeout=120, env=env)


def test_pipes(tiny_model, tmp_path):
    data = SAMPLE + random.Random(3).randbytes(100)
    done = run_cli(["compress", "-q", "-m", tiny_model, "-"], data, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(container.MAGIC)
    assert done.stderr == b""
    blob = done.stdout
    assert decode(blob, tiny_model) == data
    done = run_cli(["decompress", "-c", "-m", tiny_model, "-"], blob, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == data
    assert list(tmp_path.iterdir()) == []


def test_pipe_errors(tiny_model, tmp_path):
    newer = container.FORMAT_VERSION + 1  # a version this arzip cannot read
    blob = b"\x89ARZ" + struct.pack("<BI", newer, 0) + b"\0\0\0\0"
    done = run_cli(["decompress", "-m", tiny_model], blob, tmp_path)
    assert done.returncode == 1
    lines = done.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("arzip: ") and f"version {newer}" in lines[0]
    assert done.stdout == b""
