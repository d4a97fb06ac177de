"""Write the lookup tables shipped in arzip/tables/ (run when a table's definition changes,
then commit the file and the sha256 this prints into `arzip/exact.py`).

    python tools/make_tables.py

laplace_rows.u32le.xz: every row of `exact.laplace_row` (scale index major, then mean
fraction), uint32 little-endian, xz-compressed. Building them takes about 0.6 s of exact
big-integer arithmetic; reading the file takes a few milliseconds, which matters for
short files (each command is a new process).
"""

from __future__ import annotations

import hashlib
import lzma
from pathlib import Path

import numpy as np

from arzip import exact

TABLES = Path(__file__).resolve().parents[1] / "arzip" / "tables"


def main() -> None:
    rows = np.stack([exact.laplace_row(j, f) for j in range(exact.LAPLACE_SCALES)
                     for f in range(exact.LAPLACE_FRACTIONS)])
    raw = rows.astype("<u4").tobytes()
    TABLES.mkdir(exist_ok=True)
    (TABLES / exact.LAPLACE_ROWS_FILE).write_bytes(lzma.compress(raw, preset=9))
    print(f"{exact.LAPLACE_ROWS_FILE}: {rows.shape}, sha256 {hashlib.sha256(raw).hexdigest()}")


if __name__ == "__main__":
    main()
