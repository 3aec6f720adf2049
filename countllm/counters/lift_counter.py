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
        from countllm.recognize.recognizer import load_recognizer  # noqa: PLC0415 — torch on demand
        from countllm.recognize.words import MAX_COUNT, WORD_THRESHOLD  # noqa: PLC0415

        recognizer = load_recognizer(self.model)
        pose = request.pose()
        exercise = labels.normalize(request.prior.action) if request.prior is not None else None
        heads = integer_heads(recognizer, recognizer.prepare(pose), exercise)  # (W, MAX_COUNT)
        per_window = [int(np.argmax(h)) + 1 if h.max() >= WORD_THRESHOLD else 0 for h in heads]
        total, saturated = sum(per_window), any(c >= MAX_COUNT for c in per_window)
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


def integer_heads(recognizer, joints: np.ndarray, exercise: str | None) -> np.ndarray:  # noqa: ANN001
    """The integer head's probabilities (W, MAX_COUNT) for consecutive motion images of `joints`."""
    from countllm.recognize.motion_image import image_from_joints, pad_image  # noqa: PLC0415
    from countllm.recognize.questions import question  # noqa: PLC0415

    cfg = recognizer.cfg.image
    chunks = [joints[a:a + cfg.max_frames] for a in range(0, len(joints), cfg.max_frames)]
    pairs = [pad_image(image_from_joints(c, cfg.points_per_chain), cfg.max_frames) for c in chunks if len(c) >= 2]
    probs = recognizer.predict(np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs]),
                               [question("count", exercise)] * len(pairs))
    return probs[:, recognizer.n_words:]


def within_one(heads: np.ndarray, answers: list[int]) -> float:
    """Product over windows of the head's probability mass on its answer ±1 (0 if a window answered
    nothing): what the head itself believes of the ±1 criterion, not a recalibrated figure."""
    p = 1.0
    for head, answer in zip(heads, answers, strict=True):
        if answer == 0:
            return 0.0
        p *= float(np.clip(head[max(answer - 2, 0):answer + 1].sum(), 0.0, 1.0))
    return p
