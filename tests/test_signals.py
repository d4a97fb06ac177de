"""Termination signals: the partial output is removed, the input untouched, one line on
stderr, exit status 128 + the signal's number; training saves a checkpoint first."""

from __future__ import annotations

import hashlib
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from arzip import engine, signals
from arzip.codecs.text.model import ByteTransformer, TextModelConfig
from arzip.train import TrainConfig, train

SAMPLE = b"Signals must leave nothing half-written behind. " * 400


def start(args: list[str], cwd: Path, stdin=subprocess.DEVNULL) -> subprocess.Popen:
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    return subprocess.Popen([sys.executable, "-m", "arzip.cli", *args], cwd=cwd, stdin=stdin,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)


def wait_for_temp(folder: Path, proc: subprocess.Popen, timeout: float = 90.0) -> None:
    """Wait until the process has created its hidden temporary output."""
    deadline = time.monotonic() + timeout
    while not any(p.name.endswith(".tmp") for p in folder.iterdir()):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no temporary output appeared"
        time.sleep(0.05)


def assert_cleaned_up(proc: subprocess.Popen, sig: signal.Signals, folder: Path,
                      expected: set[str]) -> None:
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + sig, err
    lines = err.decode().strip().splitlines()
    assert lines == [f"arzip: interrupted ({sig.name}); no output written"], lines
    assert {p.name for p in folder.iterdir()} == expected


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
@pytest.mark.parametrize("direction", ["compress", "decompress"])
def test_signal_while_reading_a_pipe_leaves_no_output(sig, direction, tiny_model, tmp_path):
    """The process waits for more input with its temporary output open; the signal
    arrives there (deterministically, unlike a race with a fast job)."""
    blob = io.BytesIO()
    engine.compress_stream(io.BytesIO(SAMPLE), blob, tiny_model)
    out = "out.arz" if direction == "compress" else "out.txt"
    proc = start([direction, "-m", tiny_model, "-", "-o", out], tmp_path, subprocess.PIPE)
    part = SAMPLE if direction == "compress" else blob.getvalue()
    proc.stdin.write(part[: len(part) // 2])  # half of the input; the pipe stays open
    proc.stdin.flush()
    wait_for_temp(tmp_path, proc)
    time.sleep(0.3)
    proc.send_signal(sig)
    assert_cleaned_up(proc, sig, tmp_path, set())


def test_sigterm_while_coding_a_file_keeps_the_input(tiny_model, tmp_path):
    path = tmp_path / "book.txt"
    rng = np.random.default_rng(0)  # skewed random bytes: lzma cannot beat the model probe,
    odds = np.exp(-np.arange(256) / 60)  # so the model codes them (seconds, not a race)
    path.write_bytes(rng.choice(256, 800_000, p=odds / odds.sum()).astype(np.uint8).tobytes())
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    proc = start(["compress", "--rm", "-m", tiny_model, str(path)], tmp_path)
    wait_for_temp(tmp_path, proc)
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    assert_cleaned_up(proc, signal.SIGTERM, tmp_path, {"book.txt"})
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest


def test_training_saves_a_checkpoint_on_sigterm_and_resumes(tmp_path):
    config = TextModelConfig(n_layer=1, n_head=2, d_model=16, d_ff=32, context=8)
    cfg = TrainConfig(steps=6, warmup=1, eval_every=100, checkpoint_every=100, threads=1)
    calls = {"n": 0}

    def batch(rng):
        return (torch.from_numpy(rng.integers(0, 256, (2, 9))),)

    def loss_fn(model, batch):
        calls["n"] += 1
        if calls["n"] == 3:  # the signal arrives in the middle of step 3
            os.kill(os.getpid(), signal.SIGTERM)
        logits = model(batch[0][:, :-1])
        return torch.nn.functional.cross_entropy(logits.reshape(-1, 256),
                                                 batch[0][:, 1:].reshape(-1))

    ckpt = tmp_path / "ck.pt"
    handler = signal.getsignal(signal.SIGTERM)
    signals.install()
    try:
        torch.manual_seed(0)
        with pytest.raises(signals.Interrupted) as caught:
            train(ByteTransformer(config), batch, loss_fn, lambda m: 0.0, cfg, ckpt, {},
                  log=lambda s: None)
        assert caught.value.signum == signal.SIGTERM
        assert torch.load(ckpt, weights_only=False)["step"] == 3  # step 3 finished first
        state = train(ByteTransformer(config), batch, loss_fn, lambda m: 0.0, cfg, ckpt, {},
                      log=lambda s: None)
        assert state["step"] == 6
    finally:
        signal.signal(signal.SIGTERM, handler)


def test_sigterm_stops_a_recursive_job_and_its_workers(tiny_model, tmp_path):
    """A -r -j 2 job: the parent is told to stop, tells its workers, and every temporary
    output of the files in progress is removed; inputs stay as they were. One input is a
    named pipe that the test keeps open, so a worker is surely mid-file (temporary output
    open, waiting for data) when the signal comes."""
    folder = tmp_path / "data"
    folder.mkdir()
    for i in range(2):
        (folder / f"f{i}.txt").write_bytes(SAMPLE)
    fifo = folder / "pipe.txt"
    os.mkfifo(fifo)
    proc = start(["compress", "-r", "-j", "2", "-m", tiny_model, str(folder)], tmp_path)
    writer = os.open(fifo, os.O_WRONLY)  # waits for the worker to open the pipe
    try:
        os.write(writer, SAMPLE[:1000])
        deadline = time.monotonic() + 60
        while not (folder / "pipe.txt.arz").exists() and not any(
                p.name.startswith(".pipe.txt.arz.") for p in folder.iterdir()):
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        # the workers end with the signal: a worker that waited for its next task would
        # hold the job until the parent's 30-second join gives up on it
        _, err = proc.communicate(timeout=25)
    finally:
        os.close(writer)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert err.decode().strip().splitlines()[-1] == (
        "arzip: interrupted (SIGTERM); unfinished outputs removed")
    left = sorted(p.name for p in folder.iterdir())
    assert not [name for name in left if name.endswith(".tmp")], left
    assert "pipe.txt.arz" not in left
    assert all((folder / f"f{i}.txt").read_bytes() == SAMPLE for i in range(2))


def test_held_code_finishes_before_the_signal_is_raised():
    """Importing torch or building a model is never interrupted half-way (a handler that
    raises inside C++ callbacks aborts the process): the signal comes after the block."""
    handler = signal.getsignal(signal.SIGTERM)
    signals.install()
    finished = False
    try:
        with pytest.raises(signals.Interrupted):
            with signals.held():
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.05)  # a handler would run here if it were not held back
                finished = True
        assert finished
    finally:
        signal.signal(signal.SIGTERM, handler)
