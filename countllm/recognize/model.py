"""The LiFT-style recognizer: one ViLT transformer over motion patches + question tokens (docs/design.md §2).

Why ViLT: it is single-stream — image patches and question words share one transformer, so the
question ("what exercise?" / "how many squats?") decides what the pooled token reads from the
motion. It is built from `transformers.ViltConfig` / `ViltModel` (no hand-written attention),
sized for this data rather than ViLT's 768 × 12 defaults: a few hundred clips of 8–10 classes
need a model of about a million weights, which also runs at hundreds of sequences a second on
a CPU. The motion image is (3, 320, max_frames) — five chains of 64 points by up to 51.2 s at
12.5 fps (the shipped model: 320 frames, 25.6 s) — cut into 32 × 32 patches: half a chain by
2.56 s each, at most 10 × 20 = 200 patches (10 × 10 for the shipped model). ViLT
interpolates its position grid to the valid part of each image, so a 10 s clip's patches span
the grid as a 50 s clip's do, and the padding is masked out.

The head is multi-label (one sigmoid per output token: exercise words, then the integers
1–30), trained against LiFT's weighted multi-hot targets (`words.OutputVocabulary`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

import torch
from torch import nn
from transformers import ViltConfig, ViltModel

from countllm.recognize.motion_image import MotionImageConfig
from countllm.recognize.questions import QuestionTokenizer
from countllm.recognize.words import OutputVocabulary


@dataclass(frozen=True)
class LiftArch:
    """The transformer's sizes: what a recipe's `arch:` section sets."""

    hidden_size: int = 128
    num_layers: int = 3
    num_heads: int = 4
    intermediate_size: int = 256
    patch_size: int = 32
    dropout: float = 0.1
    max_question_tokens: int = 16


@dataclass(frozen=True)
class LiftConfig(LiftArch):
    """Everything a checkpoint needs to rebuild the model: the sizes, the motion-image settings and
    the vocabularies the training data fixed."""

    image: MotionImageConfig = field(default_factory=MotionImageConfig)
    question_words: tuple[str, ...] = ()  # the tokenizer's vocabulary (QuestionTokenizer.words)
    output_words: tuple[str, ...] = ()  # exercise words of the head (OutputVocabulary.words)
    output_weights: tuple[float, ...] = ()
    exercises: tuple[str, ...] = ()  # the exercise ids the model was trained on / scores

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LiftConfig:
        """Rebuild from `to_dict` output; ValueError on unknown keys (a config from other code)."""
        names = {f.name for f in fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown recognizer config keys {sorted(unknown)}; accepted: {sorted(names)}")
        data = dict(data)
        data["image"] = MotionImageConfig(**data.get("image", {}))
        for key in ("question_words", "output_words", "output_weights", "exercises"):
            data[key] = tuple(data.get(key, ()))
        return cls(**data)

    @property
    def tokenizer(self) -> QuestionTokenizer:
        return QuestionTokenizer(self.question_words, self.max_question_tokens)

    @property
    def vocabulary(self) -> OutputVocabulary:
        return OutputVocabulary(self.output_words, self.output_weights)

    def vilt_config(self) -> ViltConfig:
        return ViltConfig(
            vocab_size=len(self.question_words), hidden_size=self.hidden_size,
            num_hidden_layers=self.num_layers, num_attention_heads=self.num_heads,
            intermediate_size=self.intermediate_size, hidden_dropout_prob=self.dropout,
            attention_probs_dropout_prob=self.dropout, max_position_embeddings=self.max_question_tokens,
            image_size=self.image.max_frames, patch_size=self.patch_size, num_channels=3,
            max_image_length=-1, pad_token_id=0, type_vocab_size=1, modality_type_vocab_size=2,
        )


class LiftModel(nn.Module):
    """Motion image + question → one logit per output token (`LiftConfig.vocabulary.tokens`)."""

    def __init__(self, cfg: LiftConfig) -> None:
        super().__init__()
        if not cfg.question_words or not cfg.output_words:
            raise ValueError("LiftConfig needs question_words and output_words (build them with the recipe)")
        self.cfg = cfg
        self.vilt = ViltModel(cfg.vilt_config(), add_pooling_layer=True)
        h = cfg.hidden_size
        self.head = nn.Sequential(nn.Linear(h, 2 * h), nn.LayerNorm(2 * h), nn.GELU(),
                                  nn.Linear(2 * h, len(cfg.vocabulary)))

    def forward(self, pixel_values: torch.Tensor, pixel_mask: torch.Tensor, input_ids: torch.Tensor,
                attention_mask: torch.Tensor) -> torch.Tensor:
        # pixel_values (B, 3, 320, F), pixel_mask (B, 320, F), input_ids/attention_mask (B, L)
        out = self.vilt(input_ids=input_ids, attention_mask=attention_mask, pixel_values=pixel_values,
                        pixel_mask=pixel_mask)
        return self.head(out.pooler_output)  # (B, V)


def n_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
