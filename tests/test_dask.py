"""Many files on a Dask cluster: a LocalCluster of 2 worker processes gives the same
archives as one process, through the API (a Client) and the CLI (--scheduler)."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import pytest

import arzip

distributed = pytest.importorskip("dask.distributed")


def make_files(root: Path) -> dict[str, bytes]:
    rng = random.Random(4)
    files = {"a.txt": b"dask worker text " * 300, "b/c.bin": rng.randbytes(30_000),
             "b/d.txt": b"".join(rng.choice([b"ab", b"cd", b"ef "]) for _ in range(3000))}
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return files


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as local:
        yield local


def test_dask_gives_the_single_process_archives(cluster, tiny_model, tmp_path):
    local, remote = tmp_path / "local", tmp_path / "remote"
    files = make_files(local)
    make_files(remote)
    single = arzip.compress_files([local], recursive=True, jobs=1, model=tiny_model)
    assert all(r.ok for r in single) and len(single) == len(files)
    with distributed.Client(cluster) as client:
        results = arzip.compress_files([remote], recursive=True, client=client,
                                       model=tiny_model)
        assert [Path(r.path).relative_to(remote) for r in results] == [
            Path(r.path).relative_to(local) for r in single]
        for name in files:
            assert (remote / (name + ".arz")).read_bytes() == (local / (name + ".arz")).read_bytes()
            (remote / name).unlink()
        back = arzip.decompress_files([remote], recursive=True, client=client,
                                      model=tiny_model)
    assert all(r.ok for r in back)
    assert all((remote / name).read_bytes() == data for name, data in files.items())


def test_cli_scheduler(cluster, tiny_model, tmp_path):
    files = make_files(tmp_path)
    done = subprocess.run([sys.executable, "-m", "arzip.cli", "compress", "-r", "-m", tiny_model,
                           "--scheduler", cluster.scheduler_address, "."], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "3 of 3 files compressed" in done.stderr and "Dask at tcp://" in done.stderr
    for name, data in files.items():
        assert arzip.decompress((tmp_path / (name + ".arz")).read_bytes(),
                                model=tiny_model) == data
