"""arzip as a library: the calls of the standard library's `lzma`/`gzip` and of `zstandard`.

    import arzip
    blob = arzip.compress(b"any bytes")           # an .arz stream (bytes)
    assert arzip.decompress(blob) == b"any bytes"
    with arzip.open("notes.txt.arz", "wb") as f:  # compressed when the file closes
        f.write(b"...")
    with arzip.open("notes.txt.arz") as f:        # decoded block by block
        first = f.read(100)

Every failure is an `arzip.ArzipError` (bad archives: `FormatError`, and `IntegrityError`
when decoded data does not match its checksum; `ModelError`, `CodecError`); the CLI is a
thin layer over these calls.
"""

from __future__ import annotations

import builtins
import io
import os
import queue
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from . import engine, fileio, sampling
from . import likelihood as _likelihood
from .errors import ArzipError

Progress = Callable[[int], None]
KINDS = {**sampling.KINDS, "bytes": "bytes"}  # what `kind=` takes -> codec id


def _codec_id(kind: str | None) -> str | None:
    if kind is None:
        return None
    try:
        return KINDS[kind]
    except KeyError:
        raise ArzipError(f"unknown kind {kind!r} (known: {', '.join(KINDS)})") from None


def _check_level(level: int | None) -> engine.Effort:
    """What a level tries: 0 the classical methods only (zlib/lzma/stored per block: fast,
    no model); 1 also context mixing without the network (no torch); None (the default)
    and 2-8 also the network where a short probe says it may win; 9 the network on every
    block (no probe)."""
    if level is None:
        return engine.DEFAULT
    if not isinstance(level, int) or not 0 <= level <= 9:
        raise ArzipError(f"level must be None (the default) or 0 .. 9, not {level!r}")
    return engine.LEVELS.get(level, engine.DEFAULT)


def compress_stream(src: BinaryIO, dst: BinaryIO, *, kind: str | None = None,
                    model: str | None = None, level: int | None = None,
                    progress: Progress | None = None) -> engine.Stats:
    """Compress the binary stream `src` into `dst`; the statistics of the run."""
    return engine.compress_stream(src, dst, model, _codec_id(kind), progress,
                                  effort=_check_level(level))


def decompress_stream(src: BinaryIO, dst: BinaryIO, *, model: str | None = None,
                      progress: Progress | None = None) -> engine.Stats:
    """Decode the .arz stream `src` into `dst`. Each block is checked before it is written;
    the whole file's sha256 last: on an error, discard what `dst` received."""
    return engine.decompress_stream(src, dst.write, model, progress)


def compress(data: bytes, *, kind: str | None = None, model: str | None = None,
             level: int | None = None) -> bytes:
    """The .arz stream of `data`. `kind` ("text"/"bytes", "image", "audio") overrides the
    detection from the first bytes; `model` is a model id or file; `level` 0 uses only the
    classical methods."""
    out = io.BytesIO()
    compress_stream(io.BytesIO(data), out, kind=kind, model=model, level=level)
    return out.getvalue()


def decompress(data: bytes, *, model: str | None = None) -> bytes:
    """The original bytes of an .arz stream, verified against its checksums."""
    out = io.BytesIO()
    decompress_stream(io.BytesIO(data), out, model=model)
    return out.getvalue()


def compress_file(src: str | os.PathLike, dst: str | os.PathLike | None = None, *,
                  kind: str | None = None, model: str | None = None,
                  level: int | None = None, force: bool = False,
                  progress: Progress | None = None) -> engine.Stats:
    """Compress the file `src` to `dst` (default: SRC.arz; "-" is stdin/stdout). The output
    appears only when complete (temporary file + rename), never over an existing file
    unless `force`."""
    src = os.fspath(src)
    dst = os.fspath(dst) if dst is not None else fileio.compressed_name(src)
    return _file_to_file(src, dst, force, lambda stream, out: compress_stream(
        stream, out, kind=kind, model=model, level=level, progress=progress))


def decompress_file(src: str | os.PathLike, dst: str | os.PathLike | None = None, *,
                    model: str | None = None, force: bool = False,
                    progress: Progress | None = None) -> engine.Stats:
    """Decode the file `src` (NAME.arz; "-" is stdin/stdout) to `dst` (default: NAME); the
    output appears only after every checksum matched."""
    src = os.fspath(src)
    dst = os.fspath(dst) if dst is not None else fileio.decompressed_name(src)
    return _file_to_file(src, dst, force, lambda stream, out: decompress_stream(
        stream, out, model=model, progress=progress))


def _file_to_file(src: str, dst: str, force: bool,
                  code: Callable[[BinaryIO, BinaryIO], engine.Stats]) -> engine.Stats:
    if (src != fileio.STDIO and dst != fileio.STDIO
            and Path(dst).resolve() == Path(src).resolve()):
        raise ArzipError(f"{src}: input and output are the same file")
    fileio.check_output(dst, force)
    with fileio.open_input(src) as stream, \
            fileio.atomic_output(dst, force, fileio.input_mode(src)) as out:
        return code(stream, out)


def test_file(src: str | os.PathLike, *, model: str | None = None,
              blocks: bool = False) -> dict:
    """Decode without output: `{"ok": True, ...}`, or with `blocks` every block's status
    (what `arzip test --json` prints); raises ArzipError when not `blocks` and it fails."""
    with fileio.open_input(os.fspath(src)) as stream:
        if blocks:
            return {"file": os.fspath(src)} | engine.verify_stream(stream, model)
        stats = engine.decompress_stream(stream, None, model)
    return {"file": os.fspath(src), "ok": True, "bytes": stats.raw_bytes, "sha256": stats.sha256}


def _many(paths, compress: bool, recursive: bool, jobs: int | None, client,
          model: str | None, force: bool, level: int | None = None) -> list:  # noqa: ANN001
    from . import batch

    _check_level(level)
    items = batch.plan([os.fspath(p) for p in paths], compress, recursive, model, force,
                       level=level)
    return list(batch.execute(items, jobs, client))


def compress_files(paths, *, recursive: bool = False, jobs: int | None = None, client=None,
                   model: str | None = None, force: bool = False,
                   level: int | None = None) -> list:  # noqa: ANN001
    """Compress many files (folders too, with `recursive`), each FILE to FILE.arz, on `jobs`
    worker processes (default: one per core) or on the workers of a Dask
    `dask.distributed.Client`; a `batch.Result` per file, in input order (failures have
    `ok` False and their one-line `error`; the other files are still done)."""
    return _many(paths, True, recursive, jobs, client, model, force, level)


def decompress_files(paths, *, recursive: bool = False, jobs: int | None = None, client=None,
                     model: str | None = None, force: bool = False) -> list:  # noqa: ANN001
    """Decompress many .arz files (see `compress_files`)."""
    return _many(paths, False, recursive, jobs, client, model, force)


def info(source: str | os.PathLike | bytes) -> dict:
    """What `arzip info --json` prints: codec, model, sizes, blocks, sha256 (no decoding)."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        report = engine.describe(io.BytesIO(bytes(source)))
        report.update(file=None, compressed_bytes=len(source))
    else:
        path = os.fspath(source)
        with fileio.open_input(path) as stream:
            report = engine.describe(stream)
        report.update(file=path,
                      compressed_bytes=os.path.getsize(path) if path != fileio.STDIO else None)
    coded, head = report["compressed_bytes"], report["codec_header"] or {}
    if coded is not None and report["original_bytes"]:
        report["bits_per_symbol"] = 8 * coded / report["original_bytes"]
    if coded is not None and {"width", "height", "channels"} <= set(head):
        subpixels = head["width"] * head["height"] * (
            head["channels"] + (1 if head.get("mode", "").endswith("A") else 0))
        report["bits_per_subpixel"] = 8 * coded / max(1, subpixels)
    if coded is not None and {"frames", "channels", "rate"} <= set(head):
        report["bits_per_sample"] = 8 * coded / max(1, head["frames"] * head["channels"])
    return report


def evaluate_likelihood(data: bytes, *, model: str | None = None,
                        max_symbols: int = _likelihood.MAX_SYMBOLS) -> _likelihood.Evaluation:
    """The model's NLL next to the real coded bits and the order-0 entropy of `data` (what
    `arzip likelihood` reports); `.summary()` gives its numbers as a dict."""
    return _likelihood.evaluate(data, model, max_symbols)


def sample(kind: str, *, model: str | None = None, seed: int = 0, temperature: float = 1.0,
           **options) -> bytes:
    """A sample from a model as file bytes (.txt, .png, .wav): see `arzip sample`."""
    try:
        return sampling.sample(kind, model, seed, temperature, **options)
    except (ValueError, KeyError) as exc:
        raise ArzipError(str(exc)) from None


class _Closed(Exception):
    """The reader closed the file before the end: the decoding thread stops."""


class ArzipFile(io.BufferedIOBase):
    """A binary file object over an .arz file (`arzip.open`). Reading decodes in a second
    thread, a block at a time (memory: a few blocks); the sha256 of the whole is checked at
    the end, so the last read raises if the file is damaged. Writing collects the data (in
    a temporary file beyond 32 MiB) and compresses it when the file is closed."""

    def __init__(self, target: str | os.PathLike | BinaryIO, mode: str = "rb", *,
                 model: str | None = None, kind: str | None = None,
                 level: int | None = None) -> None:
        super().__init__()
        if mode not in ("r", "rb", "w", "wb", "x", "xb"):
            raise ValueError(f"mode must be 'rb', 'wb' or 'xb', not {mode!r}")
        self._reading = mode.startswith("r")
        self._model, self._kind, self._level = model, kind, level
        self._owns = not hasattr(target, "read" if self._reading else "write")
        if self._owns:
            self._path = os.fspath(target)
            self._file: BinaryIO = builtins.open(self._path, "rb" if self._reading else
                                                 ("xb" if mode.startswith("x") else "wb"))
        else:
            self._file = target  # type: ignore[assignment]
        self._closing = False
        if self._reading:
            self._pieces: queue.Queue = queue.Queue(maxsize=4)
            self._buffer, self._error, self._eof = b"", None, False
            self._thread = threading.Thread(target=self._decode, daemon=True)
            self._thread.start()
        else:
            self._spool = tempfile.SpooledTemporaryFile(max_size=32 << 20)

    # reading -------------------------------------------------------------------------
    def _put(self, piece: bytes | None) -> None:
        while True:  # the reader may close early: then stop decoding
            if self._closing:
                raise _Closed
            try:
                self._pieces.put(piece, timeout=0.1)
                return
            except queue.Full:
                continue

    def _decode(self) -> None:
        try:
            engine.decompress_stream(self._file, lambda piece: self._put(bytes(piece)),
                                     self._model)
        except _Closed:
            return
        except BaseException as exc:  # handed to the reader
            self._error = exc
        try:
            self._put(None)
        except _Closed:
            pass

    def _fill(self, size: int) -> None:
        while not self._eof and (size < 0 or len(self._buffer) < size):
            piece = self._pieces.get()
            if piece is None:
                self._eof = True
                if self._error is not None:
                    raise self._error
            else:
                self._buffer += piece

    def readable(self) -> bool:
        return self._reading

    def read(self, size: int | None = -1) -> bytes:
        if not self._reading:
            raise io.UnsupportedOperation("not open for reading")
        size = -1 if size is None else size
        self._fill(size)
        if size < 0:
            out, self._buffer = self._buffer, b""
        else:
            out, self._buffer = self._buffer[:size], self._buffer[size:]
        return out

    def read1(self, size: int = -1) -> bytes:
        return self.read(size)

    # writing -------------------------------------------------------------------------
    def writable(self) -> bool:
        return not self._reading

    def write(self, data) -> int:  # noqa: ANN001
        if self._reading:
            raise io.UnsupportedOperation("not open for writing")
        if self.closed:
            raise ValueError("write to a closed file")
        return self._spool.write(data)

    def close(self) -> None:
        if self.closed:
            return
        self._closing = True
        try:
            if self._reading:
                self._thread.join()
            else:
                self._spool.seek(0)
                compress_stream(self._spool, self._file, kind=self._kind, model=self._model,
                                level=self._level)
                self._spool.close()
        finally:
            if self._owns:
                self._file.close()
            super().close()


def open(target: str | os.PathLike | BinaryIO, mode: str = "rb", *,  # noqa: A001
         model: str | None = None, kind: str | None = None,
         level: int | None = None) -> ArzipFile:
    """A binary file object: "rb" decodes an .arz file (path or file object) as it is
    read; "wb"/"xb" compresses what is written when the file is closed."""
    return ArzipFile(target, mode, model=model, kind=kind, level=level)
