"""The CountLLM video-LLM: motion features → periodicity transformer → projector → causal LM.

    pose ──(frozen motion encoder)──► (T, F) ──► PeriodicityTransformer ──► Q tokens + density
                                                                   │            │ ĉ = Σ density
                                                                   ▼            ▼
                                                  Projector: MLP(tokens) ++ numeric tokens(ĉ)
                                                                   │
             chat prompt: [text before <video>] [visual tokens] [question + format] ──► LoRA LM ──► "Count: 7."

Training loss = lm_weight · next-token CE on the answer
              + count_weight · |ĉ − c| / max(c, 1)         (LMRL's normalised count loss)
              + density_weight · Σ_t (d_t − g_t)²          (when cycle boundaries are known)
With lm_weight = 0 the language model is not run at all, which makes periodicity pre-training
hundreds of times cheaper than a full step.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from countllm.videollm.backbone import Backbone, BackboneConfig, digit_token_ids
from countllm.videollm.inputs import IGNORE, VideoBatch
from countllm.videollm.motion_encoder import MotionEncoderConfig, feature_dim
from countllm.videollm.periodicity_transformer import PeriodicityConfig, PeriodicityOutput, PeriodicityTransformer
from countllm.videollm.projector import Projector, ProjectorConfig
from countllm.videollm.prompting import PromptBuilder, PromptConfig


@dataclass(frozen=True)
class VideoLLMConfig:
    encoder: MotionEncoderConfig = field(default_factory=MotionEncoderConfig)
    periodicity: PeriodicityConfig = field(default_factory=PeriodicityConfig)
    projector: ProjectorConfig = field(default_factory=ProjectorConfig)
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    prompt: PromptConfig = field(default_factory=PromptConfig)
    max_new_tokens: int = 40

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VideoLLMConfig:
        """Inverse of to_dict; unknown keys are an error (a typo must not be ignored)."""
        parts = {f.name for f in fields(cls)}
        kinds = {"encoder": MotionEncoderConfig, "periodicity": PeriodicityConfig, "projector": ProjectorConfig,
                 "backbone": BackboneConfig, "prompt": PromptConfig}
        unknown = set(data) - set(parts)
        if unknown:
            raise ValueError(f"unknown video-LLM config keys {sorted(unknown)}; accepted: {sorted(parts)}")
        values: dict[str, Any] = {}
        for name, value in data.items():
            if name in kinds:
                value = dict(value)
                if name == "backbone" and "lora_targets" in value:
                    value["lora_targets"] = tuple(value["lora_targets"])
                values[name] = kinds[name](**value)
            else:
                values[name] = value
        return cls(**values)


@dataclass(frozen=True)
class LossWeights:
    lm: float = 1.0
    count: float = 0.0
    density: float = 0.0


@dataclass
class StepOutput:
    loss: torch.Tensor
    parts: dict[str, float]  # each weighted term, for logging
    count: torch.Tensor  # (B,) the density head's counts


class VideoLLM(nn.Module):
    def __init__(self, cfg: VideoLLMConfig, backbone: Backbone) -> None:
        super().__init__()
        self.cfg = cfg
        self.periodicity = PeriodicityTransformer(cfg.periodicity, feature_dim(cfg.encoder))
        self.projector = Projector(cfg.projector, cfg.periodicity.d_model, backbone.hidden_size)
        self.lm = backbone.model
        self.backbone = backbone
        self.prompts = PromptBuilder.from_config(cfg.prompt, backbone.tokenizer)
        digits = digit_token_ids(backbone.tokenizer) if cfg.projector.numeric_tokens else []
        self.register_buffer("digit_ids", torch.tensor(digits, dtype=torch.long), persistent=False)

    @property
    def device(self) -> torch.device:
        """Where the trained parts are (the LM with them, once the model is moved or prepared)."""
        return self.periodicity.queries.device

    def set_prompt(self, prompt: PromptConfig) -> None:
        """Switch the prompt (e.g. the no-template ablation continuing from a checkpoint)."""
        self.cfg = replace(self.cfg, prompt=prompt)
        self.prompts = PromptBuilder.from_config(prompt, self.backbone.tokenizer)

    # ------------------------------------------------------------------ visual tokens
    def visual_tokens(self, batch: VideoBatch) -> tuple[torch.Tensor, PeriodicityOutput]:
        """(B, V, H) tokens for the LM, and the periodicity outputs they came from."""
        out = self.periodicity(batch.features, batch.frame_mask)
        digit_embeddings = self.backbone.embed(self.digit_ids) if len(self.digit_ids) else None
        return self.projector(out.tokens, out.count, digit_embeddings), out

    def _embed_ids(self, ids: tuple[int, ...], device: torch.device) -> torch.Tensor:
        return self.backbone.embed(torch.tensor(ids, dtype=torch.long, device=device))

    def _sequence(self, i: int, batch: VideoBatch, visual: torch.Tensor, with_answer: bool) -> tuple[torch.Tensor, int]:
        """One item's (L, H) input embeddings, and how many of them are prompt."""
        device = visual.device
        p = batch.prompts[i]
        pieces = [self._embed_ids(p.before, device), visual[i].to(self.lm.dtype), self._embed_ids(p.after, device)]
        prompt_len = len(p.before) + visual.shape[1] + len(p.after)
        if with_answer:
            pieces.append(self._embed_ids(batch.answers[i], device))
        return torch.cat(pieces, dim=0), prompt_len

    # ------------------------------------------------------------------ training
    def forward(self, batch: VideoBatch, weights: LossWeights = LossWeights()) -> StepOutput:
        visual, out = self.visual_tokens(batch)
        terms: dict[str, torch.Tensor] = {}
        if weights.lm > 0:
            terms["lm"] = weights.lm * self.answer_loss(batch, visual)
        if weights.count > 0 and torch.isfinite(batch.count).any():
            known = torch.isfinite(batch.count)
            c = batch.count[known]
            terms["count"] = weights.count * ((out.count[known] - c).abs() / c.clamp(min=1)).mean()
        if weights.density > 0:
            known = torch.isfinite(batch.density) & batch.frame_mask
            if known.any():
                err = torch.where(known, out.density - torch.nan_to_num(batch.density), torch.zeros_like(out.density))
                terms["density"] = weights.density * (err ** 2).sum(1)[known.any(1)].mean()
        if not terms:
            raise ValueError("no loss term applies to this batch: check the stage's loss weights and data")
        loss = sum(terms.values())
        return StepOutput(loss=loss, parts={k: float(v.detach()) for k, v in terms.items()}, count=out.count.detach())

    def answer_loss(self, batch: VideoBatch, visual: torch.Tensor) -> torch.Tensor:
        """Next-token cross-entropy on the answer tokens only (prompt and padding ignored)."""
        seqs, labels = [], []
        for i in range(len(batch)):
            emb, prompt_len = self._sequence(i, batch, visual, with_answer=True)
            seqs.append(emb)
            labels.append([IGNORE] * prompt_len + list(batch.answers[i]))
        inputs, attention = pad_sequences(seqs, left=False)
        target = torch.full(attention.shape, IGNORE, dtype=torch.long, device=visual.device)
        for i, lab in enumerate(labels):
            target[i, : len(lab)] = torch.tensor(lab, device=visual.device)
        logits = self.lm(inputs_embeds=inputs, attention_mask=attention).logits  # (B, L, V)
        return F.cross_entropy(logits[:, :-1].flatten(0, 1).float(), target[:, 1:].flatten(), ignore_index=IGNORE)

    # ------------------------------------------------------------------ inference
    @torch.no_grad()
    def generate(self, batch: VideoBatch) -> tuple[list[str], PeriodicityOutput]:
        """Greedy answers for every item, and the periodicity outputs they were read from (on the
        model's device: a batch is collated on the CPU, the model may be on a GPU)."""
        batch = batch.to(self.device)
        visual, out = self.visual_tokens(batch)
        seqs = [self._sequence(i, batch, visual, with_answer=False)[0] for i in range(len(batch))]
        inputs, attention = pad_sequences(seqs, left=True)  # every prompt ends where generation starts
        tokenizer = self.backbone.tokenizer
        generated = self.lm.generate(inputs_embeds=inputs, attention_mask=attention, do_sample=False,
                                     max_new_tokens=self.cfg.max_new_tokens, pad_token_id=tokenizer.pad_token_id,
                                     eos_token_id=tokenizer.eos_token_id)
        texts = tokenizer.batch_decode(generated, skip_special_tokens=True)
        return [t.strip() for t in texts], out



def pad_sequences(seqs: list[torch.Tensor], left: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(L_i, H) embeddings → (B, L, H) zero-padded on the right (training) or left (generation),
    with the (B, L) attention mask."""
    length = max(len(s) for s in seqs)
    inputs = seqs[0].new_zeros(len(seqs), length, seqs[0].shape[1])
    attention = torch.zeros(len(seqs), length, dtype=torch.long, device=seqs[0].device)
    for i, s in enumerate(seqs):
        span = slice(length - len(s), length) if left else slice(0, len(s))
        inputs[i, span], attention[i, span] = s, 1
    return inputs, attention
