"""The built wheel (not the editable install) contains every codec subpackage and the
shipped weights, and its `arzip` command round-trips a file."""

from __future__ import annotations

import json
import math
import struct
import subprocess
import sys
import venv
import wave
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation",
                    "--outdir", str(out), str(ROOT)], check=True, capture_output=True)
    (path,) = out.glob("arzip-*.whl")
    return path


def test_wheel_contains_codecs_and_weights(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for package in ("arzip", "arzip/codecs", "arzip/codecs/text", "arzip/codecs/image",
                    "arzip/codecs/audio", "arzip/codecs/models"):
        assert f"{package}/__init__.py" in names, package
    assert {"arzip/codecs/text/model.py", "arzip/codecs/image/model.py",
            "arzip/codecs/audio/model.py", "arzip/codecs/audio/lpc.py"} <= names
    for kind in ("text", "image", "audio"):  # what `arzip bench` / `likelihood` import
        assert {f"arzip/codecs/{kind}/baselines.py", f"arzip/codecs/{kind}/surprise.py"} <= names
    manifest = json.loads((ROOT / "codecs/models/models.json").read_text())
    assert manifest, "no bundled model"
    for entry in manifest.values():
        assert f"arzip/codecs/models/{entry['file']}" in names
    assert not any(n.startswith("codecs/") for n in names), "codecs must not be top-level"
    assert "arzip/tables/laplace_rows.u32le.xz" in names  # read instead of rebuilt


def test_installed_wheel_round_trips(wheel, tmp_path):
    env_dir = tmp_path / "venv"
    # the wheel is installed into a fresh venv; torch & co come from the environment that
    # runs the tests (the system's, or a virtual environment's: a venv made from inside
    # one would otherwise see only the base interpreter's packages)
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    own = subprocess.run([str(python), "-c", "import site; print(site.getsitepackages()[0])"],
                         check=True, capture_output=True, text=True).stdout.strip()
    parents = [p for p in sys.path if p.endswith("-packages") and Path(p).is_dir()]
    (Path(own) / "_running_environment.pth").write_text("\n".join(parents) + "\n")
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index",
                    str(wheel)], check=True, capture_output=True)
    where = subprocess.run([str(python), "-c", "import arzip.codecs.text, codecs; "
                            "print(arzip.__file__); print(codecs.__file__)"],
                           cwd=tmp_path, check=True, capture_output=True, text=True).stdout
    assert str(env_dir) in where.splitlines()[0]
    assert "site-packages" not in where.splitlines()[1]  # stdlib codecs is not shadowed
    arzip = env_dir / "bin" / "arzip"

    # one file per codec, compressed, reported and decompressed by one command each (a
    # process per step would spend most of the test importing torch)
    sample = tmp_path / "sample.txt"
    sample.write_bytes(b"Lossless means lossless. " * 40)
    image = tmp_path / "gradient.ppm"
    rows = [bytes((x * 9 + y * 4) % 256 for x in range(24 * 3)) for y in range(20)]
    image.write_bytes(b"P6\n24 20\n255\n" + b"".join(rows))
    tone = tmp_path / "tone.wav"
    samples = [int(8000 * math.sin(i / 7.0)) + (i * 7919) % 17 for i in range(3000)]
    with wave.open(str(tone), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(struct.pack(f"<{len(samples)}h", *samples))
    files = {sample: "bytes", image: "image", tone: "audio"}
    subprocess.run([str(arzip), "compress", "-q", *map(str, files)], cwd=tmp_path, check=True)
    archives = [str(path) + ".arz" for path in files]
    info = subprocess.run([str(arzip), "info", *archives], cwd=tmp_path, check=True,
                          capture_output=True, text=True).stdout
    codecs = [line.split()[1] for line in info.splitlines() if line.startswith("  codec ")]
    assert codecs == list(files.values()), info
    back = tmp_path / "back"
    back.mkdir()
    moved = [str(back / Path(a).name) for a in archives]
    for a, b in zip(archives, moved, strict=True):
        Path(a).rename(b)
    subprocess.run([str(arzip), "decompress", "-q", *moved], cwd=tmp_path, check=True)
    for path in files:
        assert (back / path.name).read_bytes() == path.read_bytes(), path.name
