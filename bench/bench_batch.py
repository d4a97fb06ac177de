"""Many files on all cores: `arzip compress -r` with -j 1 against -j 2 (or --jobs).

    python bench/bench_batch.py [IMAGE_DEV] [--files 8] [--jobs 2]

Copies the first FILES images of the folder to a temporary folder and times the whole
command (start-up included) at each -j; the archives must be identical. JSON in
bench/results/batch.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from arzip.benchmark import machine

ROOT = Path(__file__).resolve().parents[1]


def timed_run(folder: Path, jobs: int) -> tuple[float, dict[str, bytes]]:
    for old in folder.rglob("*.arz"):
        old.unlink()
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "arzip.cli", "compress", "-q", "-r", "-j", str(jobs),
                    str(folder)], check=True)
    seconds = time.perf_counter() - start
    return seconds, {p.name: p.read_bytes() for p in sorted(folder.rglob("*.arz"))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default=str(ROOT.parent / "shared/data/image/dev"))
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--json", default=str(ROOT / "bench/results/batch.json"))
    args = parser.parse_args()
    files = sorted(Path(args.folder).rglob("*.png"))[: args.files]
    with tempfile.TemporaryDirectory() as tmp:
        for f in files:
            shutil.copy(f, Path(tmp) / f.name)
        size = sum(f.stat().st_size for f in files)
        one, first = timed_run(Path(tmp), 1)
        many, second = timed_run(Path(tmp), args.jobs)
    assert first == second, "the archives depend on -j"
    result = {"machine": machine(), "files": len(files), "bytes": size,
              "seconds_j1": one, f"seconds_j{args.jobs}": many, "speedup": one / many}
    Path(args.json).write_text(json.dumps(result, indent=1))
    print(json.dumps({k: v for k, v in result.items() if k != "machine"}, indent=1))


if __name__ == "__main__":
    main()
