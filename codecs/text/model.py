"""Causal byte Transformer with rotary positions and a sliding-window KV cache.

`forward` scores whole sequences (training, likelihood); `step` advances every lane of a
batch by one byte through a ring-buffer cache (coding). The module does no I/O.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class TextModelConfig:
    """Hyper-parameters of the byte Transformer."""

    vocab_size: int = 256
    n_layer: int = 4
    n_head: int = 4  # query heads; keys and values use one shared head (multi-query)
    d_model: int = 128
    d_ff: int = 512
    context: int = 256  # attention window in bytes (training length and cache size)

    def to_dict(self) -> dict:
        return asdict(self)


def rotary_tables(positions: torch.Tensor, head_dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """cos/sin tables for the given absolute positions, computed in float64 then cast."""
    inv_freq = 1.0 / (10000.0 ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim))
    angles = positions.to(torch.float64)[:, None] * inv_freq[None, :]
    return angles.cos().float(), angles.sin().float()


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate channel pairs of x (..., T, head_dim) by the position tables (T, head_dim/2)."""
    x1, x2 = x[..., 0::2], x[..., 1::2]
    out = torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)
    return out.flatten(-2)


class Block(nn.Module):
    """Pre-norm attention + MLP block."""

    def __init__(self, cfg: TextModelConfig) -> None:
        super().__init__()
        self.n_head = cfg.n_head
        self.head_dim = cfg.d_model // cfg.n_head
        self.ln1 = nn.LayerNorm(cfg.d_model)
        self.qkv = nn.Linear(cfg.d_model, cfg.d_model + 2 * self.head_dim)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model)
        self.ln2 = nn.LayerNorm(cfg.d_model)
        self.fc = nn.Linear(cfg.d_model, cfg.d_ff)
        self.out = nn.Linear(cfg.d_ff, cfg.d_model)

    def _split_heads(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """q (B, H, T, hd); k, v (B, 1, T, hd)."""
        b, t, d = x.shape
        q, k, v = self.qkv(x).split((d, self.head_dim, self.head_dim), dim=-1)
        q = q.view(b, t, self.n_head, self.head_dim).transpose(1, 2)
        return q, k[:, None], v[:, None]

    def mlp(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(F.gelu(self.fc(self.ln2(x))))

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self._split_heads(self.ln1(x))
        q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        shape = (b, self.n_head, t, self.head_dim)
        k, v = k.expand(shape), v.expand(shape)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.proj(y.transpose(1, 2).reshape(b, t, d))
        return x + self.mlp(x)

    def step(self, x: torch.Tensor, rot_q: torch.Tensor, rot_k: torch.Tensor,
             cache_k: torch.Tensor, cache_v: torch.Tensor, slot: int,
             mask: torch.Tensor | None) -> torch.Tensor:
        """One position for every lane; x is (B, 1, d).

        rot_q / rot_k (hd, hd) apply this position's rotary rotation as one matmul (rot_q
        also carries the 1/sqrt(hd) attention scale). Keys are cached transposed as
        (B, hd, W), values as (B, W, hd), in ring-buffer slots.
        """
        b, _, d = x.shape
        q, k, v = self.qkv(self.ln1(x))[:, 0].split((d, self.head_dim, self.head_dim), dim=-1)
        q = (q.reshape(b * self.n_head, self.head_dim) @ rot_q).view(b, self.n_head, -1)
        cache_k[:, :, slot] = k @ rot_k
        cache_v[:, slot] = v
        scores = torch.bmm(q, cache_k)
        if mask is not None:
            scores = scores.masked_fill(mask, float("-inf"))
        y = torch.bmm(torch.softmax(scores, dim=-1), cache_v)
        x = x + self.proj(y.reshape(b, 1, d))
        return x + self.mlp(x)


class ByteTransformer(nn.Module):
    """Next-byte model: logits for byte t+1 given bytes <= t (a BOS of 0 starts every lane)."""

    def __init__(self, cfg: TextModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.d_model)
        self.head = nn.Linear(cfg.d_model, cfg.vocab_size)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Logits (B, T, 256) for the byte after each input position of tokens (B, T)."""
        t = tokens.shape[1]
        cos, sin = rotary_tables(torch.arange(t), self.cfg.d_model // self.cfg.n_head)
        x = self.embed(tokens)
        for block in self.blocks:
            x = block(x, cos, sin)
        return self.head(self.ln_f(x))

    def new_cache(self, lanes: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """An empty ring-buffer cache for `lanes` lanes."""
        c = self.cfg
        hd = c.d_model // c.n_head
        return [(torch.zeros(lanes, hd, c.context), torch.zeros(lanes, c.context, hd))
                for _ in self.blocks]

    def rotation(self, position: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Right-multiplied rotary matrices (hd, hd) for queries (scaled) and keys."""
        hd = self.cfg.d_model // self.cfg.n_head
        cos, sin = rotary_tables(torch.tensor([position]), hd)
        rot = apply_rotary(torch.eye(hd), cos, sin)  # row i = rotated basis vector e_i
        return rot * (1.0 / math.sqrt(hd)), rot

    @torch.no_grad()
    def step(self, tokens: torch.Tensor, position: int,
             cache: list[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
        """Logits (B, 256) after feeding tokens (B,) at `position`, updating the cache."""
        window = self.cfg.context
        rot_q, rot_k = self.rotation(position)
        mask = None
        if position + 1 < window:  # slots not yet written must not be attended
            mask = (torch.arange(window) > position).view(1, 1, window)
        x = self.embed(tokens[:, None])
        for block, (ck, cv) in zip(self.blocks, cache, strict=True):
            x = block.step(x, rot_q, rot_k, ck, cv, position % window, mask)
        return self.head(self.ln_f(x))[:, 0]
