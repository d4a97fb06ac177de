"""Keep numba's on-disk cache honest across modules.

numba checks a cached kernel only against the file that defines it: a codec kernel that
inlines the core primitives (`arzip.mixing`) would keep its old machine code after those
change in a working tree (an upgrade rewrites every file, so installed copies are safe).
`depends(__file__, module, ...)` drops the caller's cached kernels whenever the source of
a module it depends on differs from the one they were compiled against.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from types import ModuleType


def depends(caller: str, *modules: ModuleType) -> None:
    digest = hashlib.sha256()
    for module in modules:
        digest.update(Path(module.__file__).read_bytes())
    cache, stem = Path(caller).parent / "__pycache__", Path(caller).stem
    stamp = cache / f"{stem}.jitdeps"
    try:
        if stamp.read_text() == digest.hexdigest():
            return
    except OSError:
        pass
    try:
        for path in cache.glob(f"{stem}.*.nb[ic]"):
            path.unlink(missing_ok=True)
        cache.mkdir(exist_ok=True)
        stamp.write_text(digest.hexdigest())
    except OSError:  # a read-only install: numba keeps its cache elsewhere
        pass
