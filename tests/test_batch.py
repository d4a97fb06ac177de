"""Many files: -r walks folders, -j spreads files over processes; the results and the
output do not depend on -j; failures are reported per file and the rest is done."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

from arzip import batch


def make_tree(root: Path) -> dict[str, bytes]:
    files = {"a.txt": b"alpha " * 500, "sub/b.bin": random.Random(1).randbytes(70_000),
             "sub/deeper/c.txt": b"gamma\n" * 800, "sub/empty.txt": b""}
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return files


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "arzip.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_list_inputs_walks_folders_in_name_order(tmp_path):
    make_tree(tmp_path)
    (tmp_path / "sub" / "old.arz").write_bytes(b"x")
    found = [Path(p).relative_to(tmp_path).as_posix()
             for p in batch.list_inputs([str(tmp_path)], True, True)]
    assert found == ["a.txt", "sub/b.bin", "sub/empty.txt", "sub/deeper/c.txt"]
    assert [Path(p).name for p in batch.list_inputs([str(tmp_path)], True, False)] == ["old.arz"]


def test_recursive_jobs_give_the_same_archives_and_report(tiny_model, tmp_path):
    outputs = {}
    for jobs in ("1", "2"):
        root = tmp_path / f"j{jobs}"
        files = make_tree(root)
        done = cli("compress", "-r", "-j", jobs, "-m", tiny_model, "-v", ".", cwd=root)
        assert done.returncode == 0, done.stderr
        lines = done.stderr.strip().splitlines()
        assert [line.split(":")[0] for line in lines[:-1]] == [
            "./a.txt", "./sub/b.bin", "./sub/empty.txt", "./sub/deeper/c.txt"]
        assert lines[-1].startswith("4 of 4 files compressed") and f"{jobs} worker" in lines[-1]
        outputs[jobs] = {name: (root / (name + ".arz")).read_bytes() for name in files}
        for name in files:
            (root / name).unlink()
        done = cli("decompress", "-r", "-j", jobs, "-m", tiny_model, "--rm", ".", cwd=root)
        assert done.returncode == 0, done.stderr
        left = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
        assert left == set(files)
        assert all((root / name).read_bytes() == data for name, data in files.items())
    assert outputs["1"] == outputs["2"]


def test_a_failing_file_is_reported_and_the_others_are_done(tiny_model, tmp_path):
    make_tree(tmp_path)
    (tmp_path / "sub" / "b.bin.arz").write_bytes(b"in the way")
    done = cli("compress", "-r", "-j", "2", "-m", tiny_model, ".", cwd=tmp_path)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert lines[0] == "arzip: ./sub/b.bin.arz: already exists; use -f to overwrite"
    assert lines[-1].startswith("3 of 4 files compressed")
    assert (tmp_path / "a.txt.arz").exists() and (tmp_path / "sub/deeper/c.txt.arz").exists()
    assert (tmp_path / "sub" / "b.bin.arz").read_bytes() == b"in the way"
    done = cli("test", "-r", ".", cwd=tmp_path)
    assert done.returncode == 1 and "b.bin.arz" in done.stderr
