"""Termination signals as exceptions, so every partial output is removed on the way out.

SIGINT already arrives as KeyboardInterrupt. `install` makes SIGTERM (kill, timeout,
systemd, container runtimes), SIGHUP (a closed terminal), SIGXCPU and SIGXFSZ (resource
limits) raise `Interrupted`, a KeyboardInterrupt, so the same `except`/`finally` paths
clean up: `fileio.atomic_output` deletes its temporary file and the input is untouched.
The process then exits with 128 + the signal's number, as a shell reports a process
killed by it (`exit_status`). SIGPIPE stays ignored by Python: a closed pipe arrives as
BrokenPipeError and is reported as one line.

`deferred` is for loops that must not stop half-way through a step (training): the
signal is recorded, the loop checks `pending` between steps, saves, and raises. `held`
does the same around code that must not be interrupted at all: importing torch or building
a model, where C++ calls back into Python and a handler's exception there aborts the
process ("terminate called after throwing an instance of 'pybind11::error_already_set'",
seen when SIGHUP arrived while a model file loaded); it raises once the code is done.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager

NAMES = ("SIGTERM", "SIGHUP", "SIGXCPU", "SIGXFSZ")


def _handled() -> list[signal.Signals]:
    return [getattr(signal, name) for name in NAMES if hasattr(signal, name)]


class Interrupted(KeyboardInterrupt):
    """A termination signal arrived; `signum` says which."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    def __str__(self) -> str:
        return signal.Signals(self.signum).name


def _raise(signum: int, frame: object) -> None:
    raise Interrupted(signum)


def install() -> None:
    """Make the termination signals raise `Interrupted` in the main thread."""
    for sig in _handled():
        try:
            signal.signal(sig, _raise)
        except (ValueError, OSError):  # not the main thread, or not settable here
            pass


def signal_number(exc: BaseException) -> int:
    """The signal behind an interruption (SIGINT for a plain KeyboardInterrupt)."""
    return exc.signum if isinstance(exc, Interrupted) else int(signal.SIGINT)


def exit_status(exc: BaseException) -> int:
    """128 + the signal's number: what a shell reports for a process the signal ended."""
    return 128 + signal_number(exc)


def describe(exc: BaseException) -> str:
    """'interrupted (SIGTERM)' and the like, for the one error line."""
    return f"interrupted ({signal.Signals(signal_number(exc)).name})"


class Deferred:
    """The first termination signal (or SIGINT) received inside `deferred()`."""

    def __init__(self) -> None:
        self.signum: int | None = None

    def __call__(self, signum: int, frame: object) -> None:
        if self.signum is None:
            self.signum = signum

    def raise_if_pending(self) -> None:
        if self.signum is not None:
            raise (KeyboardInterrupt() if self.signum == signal.SIGINT
                   else Interrupted(self.signum))


@contextmanager
def deferred() -> Iterator[Deferred]:
    """Record termination signals and SIGINT instead of raising them at once; the caller
    checks `.signum` at safe points. The previous handlers come back on exit."""
    state = Deferred()
    previous = {}
    for sig in [signal.SIGINT, *_handled()]:
        try:
            previous[sig] = signal.signal(sig, state)
        except (ValueError, OSError):
            pass
    try:
        yield state
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextmanager
def held() -> Iterator[None]:
    """Run the block with termination signals and SIGINT held back; one that arrived is
    raised when the block has finished (in the main thread; elsewhere signals are not
    handled at all, so nothing changes)."""
    with deferred() as pending:
        yield
    pending.raise_if_pending()
