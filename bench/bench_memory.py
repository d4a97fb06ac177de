"""Peak memory of `arzip compress` / `decompress` as the input grows (bounded by the block).

Each run is a separate process measured with getrusage(RUSAGE_CHILDREN). Inputs are
English-like text built from a dev file repeated with variations. Usage:

    python bench/bench_memory.py ../shared/data/text/dev/canterbury/lcet10.txt --mb 1 4
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run_measured(args: list[str]) -> tuple[float, float]:
    """(peak RSS in MB, seconds) of one child process."""
    start = time.perf_counter()
    pid = subprocess.Popen(args).pid
    _, status, usage = os.wait4(pid, 0)
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"failed: {' '.join(args)}")
    return usage.ru_maxrss / 1024, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("source", type=Path)
    parser.add_argument("--mb", type=float, nargs="+", default=[1, 4])
    parser.add_argument("--out", type=Path, default=Path("bench/results/memory.json"))
    args = parser.parse_args()
    text = args.source.read_bytes()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for mb in args.mb:
            size = int(mb * (1 << 20))
            data = bytearray()
            i = 0
            while len(data) < size:  # shifted copies, so later blocks are not exact repeats
                data += text[i % 997:] + str(i).encode()
                i += 1
            src = Path(tmp) / f"in{mb}"
            src.write_bytes(bytes(data[:size]))
            arzip = [sys.executable, "-m", "arzip.cli"]
            enc_mb, enc_s = run_measured(arzip + ["compress", "-q", "-f", str(src)])
            dec_mb, dec_s = run_measured(arzip + ["decompress", "-q", "-f", "-o",
                                                  str(src) + ".out", str(src) + ".arz"])
            assert Path(str(src) + ".out").read_bytes() == src.read_bytes()
            rows.append({"input_mb": mb, "compress_peak_mb": enc_mb, "compress_s": enc_s,
                         "decompress_peak_mb": dec_mb, "decompress_s": dec_s})
            print(f"{mb:6.1f} MB: compress peak {enc_mb:7.0f} MB ({enc_s:.0f}s), "
                  f"decompress peak {dec_mb:7.0f} MB ({dec_s:.0f}s)", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"rows": rows, "cpu_count": os.cpu_count(),
                                    "method": "os.wait4 ru_maxrss of each child"}, indent=1))


if __name__ == "__main__":
    main()
