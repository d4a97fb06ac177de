"""The cross-kernel matrix: an archive made with one set of CPU kernels decodes byte-exact
with every other, and every set makes the same archive.

The environment variables select the kernels that another CPU, another torch/numpy build
or another thread count would run (on this machine, a cheap stand-in for "another
machine"): torch's ATen dispatch, MKL and oneDNN instruction sets, numpy's SIMD loops and
OpenBLAS kernels, numba's target CPU, two threads everywhere. Inputs are the golden
originals (text, PNG, stereo WAV, FLAC) with the shipped models, so the real networks,
mixers, adaptive stages and coders are all exercised. Beyond the round trip (the coder's
24-bit quantisation can hide a last-bit difference), every run hashes every distribution
handed to the coder (for context-mixing blocks: the network frequencies handed to the
integer mixing), and the hashes of all runs, encoders and decoders, must be equal.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

GOLDEN = Path(__file__).resolve().parent / "golden"
INPUTS = ["text.txt", "gradient.png", "stereo.wav", "mono.flac"]
OLD_ISA = {"ATEN_CPU_CAPABILITY": "default", "MKL_ENABLE_INSTRUCTIONS": "SSE4_2",
           "DNNL_MAX_CPU_ISA": "SSE41", "NPY_DISABLE_CPU_FEATURES": "X86_V3 X86_V4 AVX512_ICL",
           "OPENBLAS_CORETYPE": "Prescott", "NUMBA_CPU_NAME": "generic"}
DECODERS = {
    "aten-default": {"ATEN_CPU_CAPABILITY": "default"},
    "aten-avx2": {"ATEN_CPU_CAPABILITY": "avx2"},
    "mkl-avx2": {"MKL_ENABLE_INSTRUCTIONS": "AVX2"},
    "mkl-sse4_2": {"MKL_ENABLE_INSTRUCTIONS": "SSE4_2"},
    "dnnl-avx2": {"DNNL_MAX_CPU_ISA": "AVX2"},
    "numpy-baseline": {"NPY_DISABLE_CPU_FEATURES": "X86_V3 X86_V4 AVX512_ICL"},
    "openblas-haswell": {"OPENBLAS_CORETYPE": "Haswell"},
    "numba-generic": {"NUMBA_CPU_NAME": "generic"},
    "two-threads": {"OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": "2",
                    "NUMBA_NUM_THREADS": "2"},
}
SCRIPT = """
import hashlib, io, sys
from pathlib import Path
import numpy as np
from arzip import coding, engine
from arzip.codecs.text import cm
mode, out_dir, *paths = sys.argv[1:]
digest = hashlib.sha256()  # of every distribution handed to the coder, in order

def record(cls, name, skip):
    inner = getattr(cls, name)
    def wrapped(self, *args):
        for a in args[skip:]:
            digest.update(np.ascontiguousarray(a).tobytes())
        return inner(self, *args)
    setattr(cls, name, wrapped)

for cls, name, skip in ((coding.CategoricalEncoder, "encode", 1),
                        (coding.LaplaceEncoder, "encode", 1),
                        (coding.CategoricalDecoder, "decode", 0),
                        (coding.LaplaceDecoder, "decode", 0)):
    record(cls, name, skip)
code = cm.LaneCoder.code

def code_recorded(self, t0, t1, net=None):
    # the network's frequencies that method 5 uses: every active lane, step by step
    if net is not None:
        for t in range(t0, t1):
            digest.update(np.ascontiguousarray(net[self.lengths > t, t - t0]).tobytes())
    return code(self, t0, t1, net)

cm.LaneCoder.code = code_recorded
from arzip.codecs.image import cm as image_cm
image_code = image_cm.ImageCM.code

def image_code_recorded(self, channel, rows, cols, img, pixels, freqs, mixed, decode):
    # format 9's image context mixing: the network's and the residual mixture's inputs
    digest.update(np.ascontiguousarray(freqs, dtype=np.int64).tobytes())
    digest.update(np.ascontiguousarray(mixed, dtype=np.float64).tobytes())
    return image_code(self, channel, rows, cols, img, pixels, freqs, mixed, decode)

image_cm.ImageCM.code = image_code_recorded
for path in map(Path, paths):
    out = io.BytesIO()
    if mode == "c":
        engine.compress_stream(io.BytesIO(path.read_bytes()), out, classical_fallback=False)
        (Path(out_dir) / (path.name + ".arz")).write_bytes(out.getvalue())
    else:
        engine.decompress_stream(io.BytesIO(path.read_bytes()), out.write)
        (Path(out_dir) / path.name[:-4]).write_bytes(out.getvalue())
(Path(out_dir) / "distributions.sha256").write_text(digest.hexdigest())
"""


def run(mode: str, out_dir: Path, paths: list[Path], env: dict) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    # numba's cache (the one the other tests filled) keys cached code by the target CPU's
    # name and features: NUMBA_CPU_NAME=generic (and the old-ISA encoder) compile afresh,
    # the runs whose variables numba does not read reuse the code compiled for this CPU
    done = subprocess.run([sys.executable, "-c", SCRIPT, mode, str(out_dir), *map(str, paths)],
                          capture_output=True, text=True, env={**os.environ, **env})
    assert done.returncode == 0, f"{env}: {done.stderr[-2000:]}"


@pytest.fixture(scope="module")
def archives(tmp_path_factory) -> Path:
    """The inputs compressed with the default kernels."""
    base = tmp_path_factory.mktemp("portability")
    run("c", base / "default", [GOLDEN / name for name in INPUTS], {})
    return base


@pytest.mark.parametrize("name", sorted(DECODERS))
def test_archives_decode_with_other_kernels(archives, name):
    out = archives / f"decoded-{name}"
    run("d", out, [archives / "default" / f"{n}.arz" for n in INPUTS], DECODERS[name])
    for n in INPUTS:
        assert (out / n).read_bytes() == (GOLDEN / n).read_bytes(), f"{n} under {name}"
    # stronger than the round trip: the coder saw bit-identical distributions
    assert (out / "distributions.sha256").read_text() == (
        archives / "default" / "distributions.sha256").read_text()


def test_old_kernels_make_the_same_archives_and_they_decode(archives):
    """The reverse direction: an encoder on an older instruction set writes the very same
    bytes, and the default kernels decode them."""
    old = archives / "old-isa"
    run("c", old, [GOLDEN / name for name in INPUTS], OLD_ISA)
    for n in INPUTS:
        assert (old / f"{n}.arz").read_bytes() == (archives / "default" / f"{n}.arz").read_bytes()
    assert (old / "distributions.sha256").read_text() == (
        archives / "default" / "distributions.sha256").read_text()
    out = archives / "decoded-default"
    run("d", out, [old / f"{n}.arz" for n in INPUTS], {})
    assert all((out / n).read_bytes() == (GOLDEN / n).read_bytes() for n in INPUTS)
