"""The training loop shared by every codec: seeded, resumable, with progress and evaluation.

A codec supplies a model, a batch sampler and an evaluation function; this module owns the
optimiser, the learning-rate schedule, checkpoints (a plain dict saved with torch.save) and
the progress lines on stderr.

Under `torchrun --nproc_per_node N` (WORLD_SIZE > 1) the same loop runs data-parallel:
DistributedDataParallel over gloo (CPU) or nccl (GPUs); every rank draws the same global
batch from the same seeded generator and trains on its rows rank, rank + N, ... (the
batch must divide by N), DDP averages the gradients, so N processes follow the
single-process run with the same global batch (up to float summation order). Rank 0 alone
logs, evaluates and writes checkpoints; every rank resumes from the checkpoint.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from . import signals

BatchFn = Callable[[np.random.Generator], tuple[torch.Tensor, ...]]
LossFn = Callable[[nn.Module, tuple[torch.Tensor, ...]], torch.Tensor]
EvalFn = Callable[[nn.Module], float]


@dataclass
class TrainConfig:
    """Optimisation settings; `steps` is the total the schedule is laid out for."""

    steps: int = 20000
    lr: float = 2e-3
    min_lr: float = 1e-4
    warmup: int = 200
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    eval_every: int = 500
    checkpoint_every: int = 100
    seed: int = 1234
    threads: int = 2
    max_minutes: float = 0.0  # checkpoint and stop after this much wall time; 0 = no limit
    stop_at: int = 0  # checkpoint and stop at this step (before cfg.steps); 0 = run to the end
    init: str = ""  # an exported model whose weights a new run starts from (not a resume)


def learning_rate(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up, then cosine decay to min_lr at cfg.steps."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    progress = min(1.0, (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup))
    return cfg.min_lr + 0.5 * (cfg.lr - cfg.min_lr) * (1 + math.cos(math.pi * progress))


def _save(path: Path, state: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def train(model: nn.Module, sample_batch: BatchFn, loss_fn: LossFn, evaluate: EvalFn,
          cfg: TrainConfig, checkpoint: Path, model_config: dict,
          log: Callable[[str], None] = lambda s: print(s, file=sys.stderr, flush=True)) -> dict:
    """Train `model` in place, resuming from `checkpoint` when it exists; return the last state."""
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    rank, world, net = _distributed(model)
    device = next(model.parameters()).device
    if rank:
        log = lambda s: None  # noqa: E731 - rank 0 speaks for all
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=cfg.lr, betas=(0.9, 0.98))
    step, history = 0, []
    if checkpoint.exists():
        state = torch.load(checkpoint, weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        step, history = state["step"], state["history"]
        rng.bit_generator.state = state["numpy_rng"]
        torch.set_rng_state(state["torch_rng"])
        log(f"resumed from {checkpoint} at step {step}")
    elif cfg.init:
        exported = torch.load(cfg.init, weights_only=True)
        if exported.get("config") != model_config:
            raise ValueError(f"{cfg.init}: its model config differs from the one trained")
        model.load_state_dict(exported["state_dict"])
        log(f"started from the weights of {cfg.init} ({exported.get('name')})")

    def snapshot() -> dict:
        return {"model": model.state_dict(), "optimizer": opt.state_dict(), "step": step,
                "history": history, "numpy_rng": rng.bit_generator.state,
                "torch_rng": torch.get_rng_state(), "train_config": asdict(cfg),
                "model_config": model_config}

    with signals.deferred() as stop:  # a step is never cut in half
        start, window_loss, window_n = time.time(), 0.0, 0
        model.train()
        while step < cfg.steps:
            for group in opt.param_groups:
                group["lr"] = learning_rate(step, cfg)
            batch = sample_batch(rng)
            if world > 1:
                if len(batch[0]) % world:
                    raise ValueError(f"a batch of {len(batch[0])} does not split over {world}")
                batch = tuple(t[rank::world].to(device) for t in batch)
            loss = loss_fn(net, batch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            step += 1
            window_loss, window_n = window_loss + loss.item(), window_n + 1
            if step % 50 == 0:
                log(f"step {step}/{cfg.steps} train {window_loss / window_n:.3f} bits/sym "
                    f"lr {learning_rate(step, cfg):.2e} {time.time() - start:.0f}s")
                window_loss, window_n = 0.0, 0
            if (step % cfg.eval_every == 0 or step == cfg.steps) and not rank:
                model.eval()
                dev = evaluate(model)
                model.train()
                history.append({"step": step, "dev_bits": dev, "seconds": time.time() - start})
                log(f"step {step} dev {dev:.4f} bits/sym")
            signalled = stop.signum is not None  # a signal between steps: save, then stop
            stopping = signalled or bool(
                cfg.max_minutes and time.time() - start > 60 * cfg.max_minutes
                or cfg.stop_at and step >= cfg.stop_at)
            if world > 1:  # every rank stops at the same step (clocks and signals differ)
                stopping = _any_rank(stopping)
            if (step % cfg.checkpoint_every == 0 or step == cfg.steps or stopping) and not rank:
                _save(checkpoint, snapshot())
            if stopping:
                log(f"interrupted at step {step}; checkpoint saved, run again to resume"
                    if signalled else f"stopped at step {step}; run again to resume")
                break
    if world > 1:  # every rank leaves together (a gloo rank exiting alone may abort)
        import torch.distributed as dist

        dist.barrier()
        dist.destroy_process_group()
    stop.raise_if_pending()
    model.eval()
    return snapshot()


def _any_rank(flag: bool) -> bool:
    """Whether `flag` holds on any rank (a collective: every rank must call it)."""
    import torch.distributed as dist

    value = torch.tensor([int(flag)], device="cuda" if torch.cuda.is_available() else "cpu")
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def _distributed(model: nn.Module) -> tuple[int, int, nn.Module]:
    """(rank, world size, the module to train): DDP when torchrun started several ranks
    (on GPUs each rank moves the model to its LOCAL_RANK device: written for nccl, tested
    here only on CPU with gloo)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1, model
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    if not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    if torch.cuda.is_available():
        device = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(device)
        model.cuda(device)
        return dist.get_rank(), world, DistributedDataParallel(model, device_ids=[device])
    return dist.get_rank(), world, DistributedDataParallel(model)
