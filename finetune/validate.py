"""Validation during training: count the held-out clips the way `countllm eval` would.

Two numbers per validation, so a stage can be judged on what it trains: the *answer* (the LM's
generated text, parsed strictly; an unparseable answer counts as a failure, not as zero) and the
*density head* (round(Σ density)), which is what the periodicity phases optimise directly.
"""

from __future__ import annotations

from typing import Any

import torch

from countllm.benchmarks.metrics import count_metrics
from countllm.finetune.data import Clip
from countllm.videollm.answer_format import UnparseableAnswer, parse_answer
from countllm.videollm.inputs import Sample, collate
from countllm.videollm.model import VideoLLM


def validate(model: VideoLLM, clips: list[Clip], batch_size: int, generate: bool) -> dict[str, Any]:
    """Metrics over `clips` (each must have a count)."""
    clips = [c for c in clips if c.count is not None]
    if not clips:
        return {}
    was_training = model.training
    model.eval()
    answers: list[int | None] = []
    density: list[int] = []
    question = model.prompts.question("count")
    with torch.no_grad():
        for start in range(0, len(clips), batch_size):
            part = clips[start:start + batch_size]
            batch = collate([Sample(c.features, "count", question, source=c.source) for c in part], model.prompts)
            batch = batch.to(model.device)  # collated on the CPU; the model may be on a GPU
            if generate:
                texts, out = model.generate(batch)
                counts = out.count
                answers.extend(_parsed_count(t) for t in texts)
            else:
                counts = model.periodicity(batch.features, batch.frame_mask).count
            density.extend(int(round(float(c))) for c in counts)
    model.train(was_training)
    truth = [int(c.count) for c in clips]
    report: dict[str, Any] = {"items": len(clips), "density": count_metrics(truth, density)}
    if generate:
        parsed = [(g, a) for g, a in zip(truth, answers) if a is not None]
        report["answer_parse_rate"] = len(parsed) / len(clips)
        if parsed:  # failures are reported as a rate, and scored as wrong below
            report["answer"] = count_metrics([g for g, _ in parsed], [a for _, a in parsed])
            report["answer_obo_all"] = sum(abs(g - a) <= 1 for g, a in parsed) / len(clips)
    return report


def _parsed_count(text: str) -> int | None:
    try:
        return parse_answer(text).count
    except UnparseableAnswer:
        return None
