"""One question about one clip (`Sample`), and many of them padded into tensors (`VideoBatch`).

Training and inference share this path, so the model sees prompts built the same way in both.
Targets are optional: a sample without `answer` is a question to generate for; `count` and
`density` feed the periodicity losses when the data has them (NaN / None when it does not).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from countllm.videollm.motion_encoder import MotionFeatures
from countllm.videollm.prompting import PromptBuilder, PromptIds

IGNORE = -100  # label of positions that carry no loss


@dataclass
class Sample:
    features: MotionFeatures
    task: str
    question: str
    answer: str | None = None  # the target text; None at inference
    count: float = math.nan  # ground-truth count, when known
    density: np.ndarray | None = None  # (T,) per-frame density on the features' time axis
    source: str = ""


@dataclass
class VideoBatch:
    features: torch.Tensor  # (B, T, F)
    frame_mask: torch.Tensor  # (B, T) bool
    prompts: list[PromptIds]
    answers: list[tuple[int, ...]]  # empty tuples at inference
    count: torch.Tensor  # (B,) NaN where unknown
    density: torch.Tensor  # (B, T) NaN where unknown
    sources: list[str]

    def __len__(self) -> int:
        return len(self.prompts)

    def to(self, device: torch.device | str) -> VideoBatch:
        return VideoBatch(self.features.to(device), self.frame_mask.to(device), self.prompts, self.answers,
                          self.count.to(device), self.density.to(device), self.sources)


def collate(samples: list[Sample], builder: PromptBuilder) -> VideoBatch:
    """Pad clips to the longest one and tokenize every prompt and answer."""
    t_max = max(len(s.features) for s in samples)
    dim = samples[0].features.values.shape[1]
    features = torch.zeros(len(samples), t_max, dim)
    mask = torch.zeros(len(samples), t_max, dtype=torch.bool)
    density = torch.full((len(samples), t_max), math.nan)
    for i, s in enumerate(samples):
        n = len(s.features)
        features[i, :n] = torch.from_numpy(s.features.values)
        mask[i, :n] = True
        if s.density is not None:
            density[i, :n] = torch.from_numpy(np.asarray(s.density, dtype=np.float32))
    return VideoBatch(
        features=features, frame_mask=mask,
        prompts=[builder.prompt_ids(s.task, s.question) for s in samples],
        answers=[builder.answer_ids(s.answer) if s.answer is not None else () for s in samples],
        count=torch.tensor([s.count for s in samples], dtype=torch.float32),
        density=density, sources=[s.source for s in samples],
    )
