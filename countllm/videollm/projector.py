"""Projector: periodicity tokens → the language model's embedding space.

Two kinds of visual tokens come out:

* the Q query tokens through a two-layer MLP (LLaVA-1.5's projector), which carry *what* moves;
* two *numeric tokens* carrying *how many*: the density count ĉ becomes a distribution over the
  integers 0…99 (a Gaussian of width `count_sigma` around ĉ), its tens and units digits are
  marginalised, and each token is the probability-weighted mix of the LM's own embeddings of
  the digit tokens "0"…"9" (plus a learned offset that marks it as visual).

Why the numeric tokens: a language model fine-tuned for minutes on a CPU does not learn to read
a number out of arbitrary soft tokens, but every pretrained LM can copy a token it is shown.
Anchoring the count to the vocabulary turns "counting as generation" into something the LoRA
can learn from a few hundred examples, and it stays differentiable (the answer's loss reaches
the density head through ĉ). Switch it off (`numeric_tokens=False`) to train the pure
query-token design of the paper.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

MAX_COUNT = 99  # two digit tokens


@dataclass(frozen=True)
class ProjectorConfig:
    hidden_mult: int = 2  # MLP width as a multiple of the LM's hidden size,
    max_hidden: int = 1024  # but at most this (keeps the saved projector small for large LMs)
    numeric_tokens: bool = True
    count_sigma: float = 0.35  # in counts: 0.35 puts ~85 % of the mass on the nearest integer


class Projector(nn.Module):
    def __init__(self, cfg: ProjectorConfig, in_dim: int, lm_dim: int) -> None:
        super().__init__()
        self.cfg = cfg
        hidden = min(cfg.hidden_mult * lm_dim, cfg.max_hidden)
        self.mlp = nn.Sequential(nn.Linear(in_dim, hidden), nn.GELU(), nn.Linear(hidden, lm_dim))
        self.digit_offset = nn.Parameter(torch.zeros(2, lm_dim))  # tens, units

    def forward(self, tokens: torch.Tensor, count: torch.Tensor, digit_embeddings: torch.Tensor) -> torch.Tensor:
        """tokens (B, Q, D), count (B,), digit_embeddings (10, H) → (B, Q [+ 2], H)."""
        projected = self.mlp(tokens)  # (B, Q, H)
        if not self.cfg.numeric_tokens:
            return projected
        tens, units = digit_distributions(count, self.cfg.count_sigma)  # (B, 10) each
        digits = torch.stack([tens, units], dim=1) @ digit_embeddings.to(projected.dtype)  # (B, 2, H)
        return torch.cat([projected, digits + self.digit_offset.to(projected.dtype)], dim=1)


def digit_distributions(count: torch.Tensor, sigma: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(B,) real counts → tens and units digit probabilities, each (B, 10)."""
    k = torch.arange(MAX_COUNT + 1, device=count.device, dtype=torch.float32)  # (K,)
    c = count.float().clamp(0, MAX_COUNT)[:, None]
    p = torch.softmax(-((k - c) ** 2) / (2 * sigma**2), dim=1)  # (B, K)
    tens = p.view(-1, 10, 10).sum(2)  # k = 10·tens + units
    units = p.view(-1, 10, 10).sum(1)
    return tens, units
