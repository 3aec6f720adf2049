"""The periodicity transformer: per-frame motion features → query tokens + a repetition density.

docs/design.md §1: learnable queries cross-attend to the frame features (the paper: 64 queries ×
12 layers over a video encoder; here a few layers suffice because the motion features already
carry the lag profiles). Two outputs:

* `tokens` — Q query tokens summarising what moves and how (read by the projector → LLM);
* `density` — a per-frame repetition density whose sum is the count (LMRL's density head,
  docs/design.md §4). It gets its own loss when cycle boundaries or counts are known, which is what
  "aligning periodicity" (training stage 2) means here, and it feeds the projector's numeric
  tokens so the language model verbalises a count it can read rather than guess.

Frames are tokens of a standard pre-norm encoder with sinusoidal time positions; padding is
masked, so clips of any length share a batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F


@dataclass(frozen=True)
class PeriodicityConfig:
    d_model: int = 128
    heads: int = 4
    frame_layers: int = 3  # self-attention over frames
    query_layers: int = 1  # queries cross-attending to frames
    queries: int = 16
    ff_mult: int = 2
    dropout: float = 0.1

    def __post_init__(self) -> None:
        if self.d_model % self.heads:
            raise ValueError(f"d_model {self.d_model} must be divisible by heads {self.heads}")


@dataclass
class PeriodicityOutput:
    tokens: torch.Tensor  # (B, Q, D)
    density: torch.Tensor  # (B, T), zero on padding
    count: torch.Tensor  # (B,) = density.sum(1)
    frames: torch.Tensor  # (B, T, D) contextual frame tokens


def sinusoidal_positions(length: int, dim: int, device: torch.device) -> torch.Tensor:
    """(T, D) fixed positions: the model needs order, and must extrapolate to long clips."""
    position = torch.arange(length, device=device, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, dim, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / dim))
    pe = torch.zeros(length, dim, device=device)
    pe[:, 0::2] = torch.sin(position * freq)
    pe[:, 1::2] = torch.cos(position * freq)
    return pe


class PeriodicityTransformer(nn.Module):
    def __init__(self, cfg: PeriodicityConfig, in_dim: int) -> None:
        super().__init__()
        self.cfg = cfg
        d = cfg.d_model
        self.input = nn.Sequential(nn.Linear(in_dim, d), nn.LayerNorm(d))
        self.frames = nn.TransformerEncoder(
            nn.TransformerEncoderLayer(d, cfg.heads, cfg.ff_mult * d, cfg.dropout, batch_first=True, norm_first=True),
            cfg.frame_layers, enable_nested_tensor=False)
        self.frame_norm = nn.LayerNorm(d)
        self.density_head = nn.Sequential(nn.Linear(d, d // 2), nn.GELU(), nn.Linear(d // 2, 1))
        nn.init.constant_(self.density_head[-1].bias, -4.0)  # start near zero density, not ~0.7 per frame
        self.queries = nn.Parameter(torch.randn(cfg.queries, d) * 0.02)
        self.readout = nn.TransformerDecoder(
            nn.TransformerDecoderLayer(d, cfg.heads, cfg.ff_mult * d, cfg.dropout, batch_first=True, norm_first=True),
            cfg.query_layers)
        self.token_norm = nn.LayerNorm(d)

    def forward(self, features: torch.Tensor, mask: torch.Tensor) -> PeriodicityOutput:
        """features (B, T, F); mask (B, T) True on real frames."""
        b, t, _ = features.shape
        x = self.input(features) + sinusoidal_positions(t, self.cfg.d_model, features.device)  # (B, T, D)
        frames = self.frame_norm(self.frames(x, src_key_padding_mask=~mask))  # (B, T, D)
        density = F.softplus(self.density_head(frames).squeeze(-1)) * mask  # (B, T)
        queries = self.queries.unsqueeze(0).expand(b, -1, -1)  # (B, Q, D)
        tokens = self.token_norm(self.readout(queries, frames, memory_key_padding_mask=~mask))  # (B, Q, D)
        return PeriodicityOutput(tokens=tokens, density=density, count=density.sum(1), frames=frames)
