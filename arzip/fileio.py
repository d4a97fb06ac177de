"""File handling with zstd/xz conventions: '-' for stdin/stdout, suffixes, no overwrite
without force, atomic writes (temp file + rename) and no partial output on failure."""

from __future__ import annotations

import os
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from .errors import ArzipError

SUFFIX = ".arz"
STDIO = "-"


def compressed_name(path: str) -> str:
    return path + SUFFIX


def decompressed_name(path: str) -> str:
    if not path.endswith(SUFFIX) or len(path) == len(SUFFIX):
        raise ArzipError(f"{path}: unknown suffix (expected {SUFFIX}); use -o or -c")
    return path[: -len(SUFFIX)]


@contextmanager
def open_input(path: str):
    """A binary stream for reading `path` ('-' is stdin)."""
    if path == STDIO:
        yield sys.stdin.buffer
        return
    try:
        if Path(path).is_dir():
            raise ArzipError(f"{path}: is a directory")
        stream = open(path, "rb")
    except OSError as exc:
        raise ArzipError(f"{path}: cannot read ({exc.strerror or exc})") from None
    with stream:
        yield stream


def check_output(path: str, force: bool) -> None:
    """Refuse a missing folder or an existing file (unless force) before any work."""
    if path == STDIO:
        return
    target = Path(path)
    if not target.parent.is_dir():
        raise ArzipError(f"{path}: output folder {target.parent} does not exist")
    if target.is_dir():
        raise ArzipError(f"{path}: is a directory")
    if target.exists() and not force:
        raise ArzipError(f"{path}: already exists; use -f to overwrite")


def refuse_terminal(stream: BinaryIO, what: str) -> None:
    if hasattr(stream, "isatty") and stream.isatty():
        raise ArzipError(f"refusing to write {what} to a terminal; use -o FILE or redirect")


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def input_mode(path: str) -> int | None:
    """Permission bits of an input file, to give its output (None for stdin/unknown)."""
    if path == STDIO:
        return None
    try:
        return os.stat(path).st_mode & 0o777
    except OSError:
        return None


@contextmanager
def atomic_output(path: str, force: bool, mode: int | None = None):
    """Yield a writable binary stream; the file appears at `path` only on success.

    The file gets permission bits `mode` (default: 0o666 less the umask), set before it
    appears under its name.
    """
    if path == STDIO:
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    check_output(path, force)
    target = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise ArzipError(f"{path}: cannot write ({exc.strerror or exc})") from None
    try:
        with os.fdopen(fd, "wb") as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(tmp, _default_mode() if mode is None else mode)
        if target.exists() and not force:  # appeared while we worked
            raise ArzipError(f"{path}: already exists; use -f to overwrite")
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def remove_input(path: str) -> None:
    """Delete an input after its output was written and verified (--rm)."""
    if path != STDIO:
        os.unlink(path)
