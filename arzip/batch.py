"""Many files: folders walked recursively, files spread over worker processes.

`run` yields one `Result` per task in the order of the tasks, whatever the number of
workers, so the output of a job never depends on `-j`; `run_on` does the same on a Dask
cluster (`dask.distributed.Client`; files move by path, so the workers must see the same
file system). Each worker is a fresh interpreter
(spawn: a fork of a process whose threads ran can deadlock) coding one file at a time with
one thread; a failing file is reported and the others go on. When the job is interrupted
(Ctrl-C, SIGTERM, SIGHUP), every worker gets SIGTERM, removes its temporary output and
stops; the inputs stay untouched.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import signal as _signal
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from . import api, signals
from .errors import ArzipError
from .fileio import SUFFIX, compressed_name, decompressed_name


@dataclass
class Task:
    """One file of a job."""

    path: str
    out: str
    compress: bool  # else decompress ("test": out is "")
    model: str | None = None
    force: bool = False
    remove: bool = False
    level: int | None = None  # compression level (None: the default)


@dataclass
class Result:
    """What became of a task: ok, or the one-line error; sizes and time."""

    path: str
    out: str
    ok: bool
    error: str = ""
    raw_bytes: int = 0
    coded_bytes: int = 0
    seconds: float = 0.0


def list_inputs(paths: list[str], recursive: bool, compress: bool) -> list[str]:
    """The files of `paths`: folders (with `recursive`) walked in name order, keeping what
    the command takes (compress: files not ending in .arz; decompress/test: .arz files)."""
    out: list[str] = []
    for path in paths:
        if recursive and Path(path).is_dir():
            for root, dirs, files in os.walk(path):
                dirs.sort()
                for name in sorted(files):
                    full = os.path.join(root, name)
                    if os.path.islink(full) or name.endswith(SUFFIX) == compress:
                        continue
                    out.append(full)
        else:
            out.append(path)
    return out


def plan(paths: list[str], compress: bool | None, recursive: bool, model: str | None = None,
         force: bool = False, remove: bool = False,
         level: int | None = None) -> list[Task | Result]:
    """A task per input file (`compress` None: test), in input order; an input that cannot
    be a task (a folder without `recursive`, a name without .arz to decompress) is a
    failed `Result` in its place."""
    items: list[Task | Result] = []
    for path in list_inputs(paths, recursive, bool(compress)):
        if Path(path).is_dir():
            items.append(Result(path, "", False, f"{path}: is a directory (use -r)"))
            continue
        try:
            out = ("" if compress is None else
                   compressed_name(path) if compress else decompressed_name(path))
        except ArzipError as exc:
            items.append(Result(path, "", False, str(exc)))
            continue
        items.append(Task(path, out, bool(compress), model, force, remove, level))
    return items


def default_jobs(tasks: int) -> int:
    """One worker per core, no more than there are tasks."""
    return max(1, min(tasks, os.cpu_count() or 1))


def execute(items: list[Task | Result], jobs: int | None = None,
            client=None) -> Iterator[Result]:  # noqa: ANN001
    """The results of a `plan`, in its order: its tasks on `jobs` worker processes
    (default: `default_jobs`) or on a Dask `client`; its failed inputs as they are."""
    tasks = [item for item in items if isinstance(item, Task)]
    results = (run_on(client, tasks) if client is not None
               else run(tasks, jobs or default_jobs(len(tasks))))
    for item in items:
        yield next(results) if isinstance(item, Task) else item
    for _ in results:  # let the workers' pool shut down normally, not on garbage collection
        pass


def do(task: Task) -> Result:
    """Run one task in this process."""
    start = time.perf_counter()
    try:
        if not task.out:  # test
            report = api.test_file(task.path, model=task.model)
            return Result(task.path, "", True, raw_bytes=report["bytes"],
                          coded_bytes=os.path.getsize(task.path),
                          seconds=time.perf_counter() - start)
        if task.compress:
            stats = api.compress_file(task.path, task.out, model=task.model, force=task.force,
                                      level=task.level)
            if task.remove:
                api.test_file(task.out, model=task.model)  # verified before the input goes
            raw, coded = stats.raw_bytes, stats.coded_bytes
        else:
            stats = api.decompress_file(task.path, task.out, model=task.model,
                                        force=task.force)
            raw, coded = stats.raw_bytes, os.path.getsize(task.path)
        if task.remove:
            os.unlink(task.path)
        return Result(task.path, task.out, True, raw_bytes=raw, coded_bytes=coded,
                      seconds=time.perf_counter() - start)
    except (ArzipError, OSError) as exc:
        message = str(exc) if isinstance(exc, ArzipError) else str(exc.strerror or exc)
        if not message.startswith(f"{task.path}: ") and not message.startswith(task.out + ":"):
            message = f"{task.path}: {message}"  # several files: every line names its file
        return Result(task.path, task.out, False, message, seconds=time.perf_counter() - start)


def _do_in_worker(task: Task) -> Result:
    """`do` in a pool worker: an interruption ends the worker once its temporary output is
    removed (the pool would otherwise keep the process waiting for the next task)."""
    try:
        return do(task)
    except signals.Interrupted as exc:
        sys.stderr.flush()
        os._exit(signals.exit_status(exc))


def _worker_start() -> None:
    os.environ["ARZIP_THREADS"] = "1"
    signals.install()
    _signal.signal(_signal.SIGINT, _signal.SIG_IGN)  # the parent decides; it sends SIGTERM


def run(tasks: list[Task], jobs: int = 1) -> Iterator[Result]:
    """The results of `tasks`, in their order, computed by `jobs` worker processes."""
    if jobs <= 1 or len(tasks) <= 1:
        for task in tasks:
            yield do(task)
        return
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(min(jobs, len(tasks)), mp_context=context,
                               initializer=_worker_start)
    futures: list = []
    try:
        futures = [pool.submit(_do_in_worker, task) for task in tasks]
        for future in futures:
            yield future.result()
    except BaseException:
        for future in futures:
            future.cancel()
        for process in list(getattr(pool, "_processes", {}).values()):
            try:
                process.terminate()  # SIGTERM: the worker removes its temporary output
            except OSError:
                pass
        for process in list(getattr(pool, "_processes", {}).values()):
            process.join(timeout=30)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def client_for(scheduler: str):  # noqa: ANN201
    """A `dask.distributed.Client` of the scheduler at `scheduler` (tcp://HOST:PORT)."""
    try:
        from dask.distributed import Client
    except ImportError:
        raise ArzipError("--scheduler needs Dask: pip install 'arzip[dask]'") from None
    try:
        return Client(scheduler, timeout="30s")
    except (OSError, TimeoutError) as exc:
        raise ArzipError(f"cannot reach the Dask scheduler {scheduler}: {exc}") from None


def run_on(client, tasks: list[Task]) -> Iterator[Result]:  # noqa: ANN001
    """The results of `tasks`, in their order, computed by the workers of a Dask `client`
    (each worker process loads a model once: `engine.load_codec` keeps it)."""
    remote = [dataclasses.replace(t, path=os.path.abspath(t.path),  # workers have other cwds
                                  out=os.path.abspath(t.out) if t.out else "") for t in tasks]
    futures = client.map(do, remote, pure=False)
    try:
        for task, future in zip(tasks, futures, strict=True):
            result = future.result()
            if not result.ok:  # the user's own path names the file
                result.error = result.error.replace(os.path.abspath(task.path), task.path)
            yield dataclasses.replace(result, path=task.path, out=task.out)
    except BaseException:
        client.cancel(futures)
        raise
