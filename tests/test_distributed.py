"""Training under torchrun: 2 CPU processes (gloo, DDP) follow the single-process run with
the same global batch, and a resumed distributed run continues the schedule."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import torch

from arzip.codecs.text.training import train_text_model
from arzip.train import TrainConfig

TINY = {"n_layer": 1, "n_head": 2, "d_model": 32, "d_ff": 64, "context": 16}
CONFIG = {"steps": 4, "warmup": 1, "eval_every": 100, "checkpoint_every": 2, "threads": 1}
SCRIPT = """
import sys
from pathlib import Path
from arzip.codecs.text.training import train_text_model
from arzip.train import TrainConfig
data, ckpt, stop_at = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
train_text_model(data, None, ckpt, TrainConfig(stop_at=stop_at, **{config}), {tiny})
"""


def corpus(root: Path) -> Path:
    (root / "prose").mkdir(parents=True)
    (root / "prose" / "a.txt").write_bytes(b"the cat sat on the mat. " * 200)
    (root / "prose" / "b.txt").write_bytes(bytes(range(256)) * 8)
    return root


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(tmp_path: Path, data: Path, ckpt: Path, stop_at: int = 0) -> None:
    script = tmp_path / "run.py"
    script.write_text(SCRIPT.format(config=CONFIG, tiny=TINY))
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nnodes", "1",
                           "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
                           "--master_port", str(free_port()), str(script), str(data),
                           str(ckpt), str(stop_at)],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]


def assert_close(a: dict, b: dict) -> None:
    for name, value in a["model"].items():
        assert torch.allclose(value, b["model"][name], atol=2e-5, rtol=1e-4), name


def test_two_processes_follow_one_and_resume(tmp_path):
    data = corpus(tmp_path / "data")
    single = train_text_model(data, None, tmp_path / "single.pt", TrainConfig(**CONFIG), TINY)
    torchrun(tmp_path, data, tmp_path / "ddp.pt")
    both = torch.load(tmp_path / "ddp.pt", weights_only=False)
    assert both["step"] == 4 == single["step"]
    assert_close(single, both)
    torchrun(tmp_path, data, tmp_path / "resumed.pt", stop_at=2)
    assert torch.load(tmp_path / "resumed.pt", weights_only=False)["step"] == 2
    torchrun(tmp_path, data, tmp_path / "resumed.pt")
    resumed = torch.load(tmp_path / "resumed.pt", weights_only=False)
    assert resumed["step"] == 4
    assert_close(single, resumed)
    moved = max(float((single["model"][k] - v).abs().max())
                for k, v in train_text_model(data, None, tmp_path / "other.pt", TrainConfig(
                    **dict(CONFIG, steps=2)), TINY)["model"].items())
    assert moved > 1e-4  # the comparison can fail: two more steps change the weights
