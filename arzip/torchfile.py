"""Read the files `torch.save` writes (a zip of one pickle and raw storages) as numpy
arrays, without importing torch: the image codec's coding runs no torch, and its import
alone costs a second and a few hundred MB.

Only what an exported model holds is accepted: dicts, lists, tuples, strings, numbers and
tensors of the storages below; any other object in the pickle is refused (ValueError), as
torch's own `weights_only` loader would.
"""

from __future__ import annotations

import io
import pickle
import zipfile
from collections import OrderedDict

import numpy as np

_STORAGES = {  # torch storage class name -> numpy dtype (little endian)
    "FloatStorage": "<f4", "DoubleStorage": "<f8", "HalfStorage": "<f2",
    "LongStorage": "<i8", "IntStorage": "<i4", "ShortStorage": "<i2", "CharStorage": "i1",
    "ByteStorage": "u1", "BoolStorage": "?",
}


def _rebuild_tensor(storage: np.ndarray, offset: int, size: tuple, stride: tuple,
                    *_: object) -> np.ndarray:
    """torch._utils._rebuild_tensor_v2's tensor as a fresh contiguous array."""
    if not size:
        return storage[offset].copy()
    item = storage.itemsize
    if offset < 0 or any(s < 0 for s in stride) or offset + sum(
            (n - 1) * s for n, s in zip(size, stride, strict=True)) >= max(len(storage), 1):
        raise ValueError("a tensor reaches outside its storage")
    view = np.lib.stride_tricks.as_strided(storage[offset:], shape=size,
                                           strides=tuple(s * item for s in stride))
    return np.array(view)


class _Unpickler(pickle.Unpickler):
    def __init__(self, data: bytes, archive: zipfile.ZipFile, prefix: str) -> None:
        super().__init__(io.BytesIO(data))
        self.archive, self.prefix, self.storages = archive, prefix, {}

    def find_class(self, module: str, name: str):
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in _STORAGES:
            return _STORAGES[name]  # a dtype, named by the persistent id
        if (module, name) == ("collections", "OrderedDict"):
            return OrderedDict
        raise ValueError(f"unexpected object {module}.{name} in a model file")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"
                and pid[1] in _STORAGES.values()):
            raise ValueError(f"unexpected storage reference {pid!r}")
        _, dtype, key, _location, numel = pid
        if key not in self.storages:
            raw = self.archive.read(f"{self.prefix}data/{key}")
            array = np.frombuffer(raw, dtype=dtype)
            if len(array) != numel:
                raise ValueError(f"storage {key} holds {len(array)} values, not {numel}")
            self.storages[key] = array
        return self.storages[key]


def load(data: bytes) -> object:
    """The object a torch.save file holds, its tensors as numpy arrays."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        pickles = [n for n in archive.namelist() if n.endswith("/data.pkl")]
        if len(pickles) != 1:
            raise ValueError("not a torch zip file (no single data.pkl)")
        prefix = pickles[0][:-len("data.pkl")]
        order = archive.read(f"{prefix}byteorder").decode() if (
            f"{prefix}byteorder" in archive.namelist()) else "little"
        if order != "little":
            raise ValueError(f"{order}-endian storages")
        return _Unpickler(archive.read(pickles[0]), archive, prefix).load()
    except (zipfile.BadZipFile, KeyError, pickle.UnpicklingError, EOFError, TypeError,
            AttributeError, IndexError) as exc:
        raise ValueError(f"not a readable model file ({exc})") from None
