"""`--method lift`: the skeleton recognizer's own count (LiFT's integer head, docs/design.md §2).

LiFT answers "how many?" with one of the integers 1–30 per motion image (the checkpoint's
window, at most 51.2 s of pose). Longer inputs are cut into consecutive images and their answers summed. A window that
answers the largest integer may hold more: that is said in the notes as *saturated*, never
silently capped. The head gives no cycle boundaries, so `cycles` is empty (say so), and the
confidence is what the head itself puts on the answer ±1 (the product over windows of the
probability mass on count−1…count+1), which is not recalibrated on development data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from countllm import labels
from countllm.counters.base import CountRequest
from countllm.types import CountResult


@dataclass(frozen=True)
class LiftCounter:
    """Counts with the recognizer checkpoint `model` (None: the shipped default)."""

    model: str | None = None

    def count(self, request: CountRequest) -> CountResult:
        # The recognizer module, not the package: the package's set splitting counts through the
        # registry that lists this counter (an import cycle).
        from countllm.recognize.recognizer import counts_from_heads, load_recognizer  # noqa: PLC0415 — torch
        from countllm.recognize.words import MAX_COUNT  # noqa: PLC0415

        recognizer = load_recognizer(self.model)
        pose = request.pose()
        exercise = labels.normalize(request.prior.action) if request.prior is not None else None
        heads = recognizer.count_heads(recognizer.prepare(pose), exercise)  # (W, MAX_COUNT)
        total, per_window, saturated = counts_from_heads(heads)
        notes = ["LiFT's integer head gives no cycle boundaries: cycles are not listed"]
        if len(per_window) > 1:
            notes.append(f"summed over {len(per_window)} windows of at most "
                         f"{recognizer.cfg.image.max_seconds:g} s: {'+'.join(map(str, per_window))}")
        if saturated:
            notes.append(f"saturated: a window answered {MAX_COUNT}, the most its integer head can say; "
                         "the true count may be higher")
        if exercise:
            notes.append(f"asked as 'how many {labels.display_name(exercise)}s'")
        duration = (len(pose) - 1) / pose.fps if len(pose) else 0.0
        return CountResult(count=int(total), cycles=[], confidence=within_one(heads, per_window),
                           method="lift", signal="LiFT integer head", fps=pose.fps, duration_s=duration,
                           notes=notes)


def within_one(heads: np.ndarray, answers: list[int]) -> float:
    """Product over windows of the head's probability mass on its answer ±1 (0 if a window answered
    nothing): what the head itself believes of the ±1 criterion, not a recalibrated figure."""
    p = 1.0
    for head, answer in zip(heads, answers, strict=True):
        if answer == 0:
            return 0.0
        p *= float(np.clip(head[max(answer - 2, 0):answer + 1].sum(), 0.0, 1.0))
    return p
