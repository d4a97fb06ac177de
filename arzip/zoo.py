"""Model zoo: stable model ids -> bundled weight files, checked by sha256 before loading.

The bundled models live in the package `arzip.codecs.models`, described by `models.json`
(one entry per "name@version": codec id, file, sha256, architecture config, model card).
A model can also be given as a path to a file exported by `arzip train`.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from . import torchfile
from .errors import ModelError
from .signals import held

MANIFEST = "models.json"


@dataclass(frozen=True)
class ModelInfo:
    """A model that a codec can load."""

    name: str  # "name@version"
    codec: str
    sha256: str
    config: dict
    card: str = ""
    path: str = ""  # file path for models outside the bundle

    @property
    def header_entry(self) -> dict:
        base, _, version = self.name.partition("@")
        return {"name": base, "version": version, "sha256": self.sha256}


def _models_dir():
    return resources.files("arzip.codecs.models")


def _manifest() -> dict:
    return json.loads((_models_dir() / MANIFEST).read_text())


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def list_models() -> list[ModelInfo]:
    """All bundled models."""
    return [_bundled(name, entry) for name, entry in sorted(_manifest().items())]


def _bundled(name: str, entry: dict) -> ModelInfo:
    return ModelInfo(name=name, codec=entry["codec"], sha256=entry["sha256"],
                     config=entry["config"], card=entry.get("card", ""), path=entry["file"])


def default_model(codec: str) -> ModelInfo:
    """The bundled default model of a codec."""
    for name, entry in sorted(_manifest().items()):
        if entry["codec"] == codec and entry.get("default"):
            return _bundled(name, entry)
    raise ModelError(f"no default model is bundled for codec '{codec}'")


def find_model(spec: str) -> ModelInfo:
    """A bundled model by "name@version" (or bare name), or an exported file by path."""
    manifest = _manifest()
    if spec in manifest:
        return _bundled(spec, manifest[spec])
    matches = [n for n in manifest if n.partition("@")[0] == spec]
    if len(matches) == 1:
        return _bundled(matches[0], manifest[matches[0]])
    path = Path(spec)
    if path.is_file():
        data = path.read_bytes()
        meta = _load_bytes(data, spec)
        return ModelInfo(name=meta["name"], codec=meta["codec"], sha256=sha256_hex(data),
                         config=meta["config"], path=str(path.resolve()))
    raise ModelError(f"unknown model '{spec}' (see 'arzip models')")


def _read_weights(info: ModelInfo) -> bytes:
    if Path(info.path).is_absolute():
        return Path(info.path).read_bytes()
    return (_models_dir() / info.path).read_bytes()


def _load_bytes(data: bytes, what: str) -> dict:
    with held():  # torch's import and load are never interrupted half-way
        import torch  # here, not at the top: stored and classical blocks need no torch

        try:
            return torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")
        except Exception as exc:
            raise ModelError(f"cannot load model weights from {what}: {exc}") from None


def load_weights(info: ModelInfo, arrays: bool = False) -> dict:
    """The exported dict {name, codec, config, state_dict}, after checking its sha256;
    with `arrays` its tensors are numpy arrays, read without torch (`torchfile`)."""
    try:
        data = _read_weights(info)
    except OSError as exc:
        raise ModelError(f"model {info.name}: weights unreadable ({exc})") from None
    digest = sha256_hex(data)
    if digest != info.sha256:
        raise ModelError(f"model {info.name}: weights sha256 {digest[:16]}… does not match "
                         f"the expected {info.sha256[:16]}…")
    if arrays:
        try:
            return torchfile.load(data)
        except ValueError as exc:
            raise ModelError(f"cannot load model weights from {info.name}: {exc}") from None
    return _load_bytes(data, info.name)


def model_for_header(entry: dict, override: str | None = None) -> ModelInfo:
    """The model that encoded a file, by its header entry; refuse any other weights."""
    wanted = f"{entry['name']}@{entry['version']}"
    info = find_model(override) if override else None
    if info is None:
        try:
            info = find_model(wanted)
        except ModelError:
            raise ModelError(f"this file needs model {wanted} (sha256 {entry['sha256']}), "
                             "which is not installed; pass it with --model PATH") from None
    if info.sha256 != entry["sha256"]:
        raise ModelError(f"this file needs model {wanted} with sha256 {entry['sha256']}, "
                         f"but {info.name} has sha256 {info.sha256}")
    return info


def export_model(path: Path, name: str, codec: str, config: dict, state_dict: dict,
                 quant: dict | None = None) -> str:
    """Write an exported model file; return its sha256. `quant` holds the activation scales
    of the exact-arithmetic network (the codec's `calibrate`), which coding requires."""
    import torch

    buffer = io.BytesIO()
    exported = {"name": name, "codec": codec, "config": dict(config),
                "state_dict": {k: v.detach().clone().contiguous() for k, v in state_dict.items()}}
    if quant is not None:
        exported["quant"] = dict(quant)
    torch.save(exported, buffer)
    data = buffer.getvalue()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return sha256_hex(data)
