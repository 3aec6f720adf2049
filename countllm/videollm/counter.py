"""The video-LLM as a counter: a pose sequence and a question in, a `CountResult` out.

The answer text is parsed strictly; an answer that does not parse is an error that quotes it,
never a guessed number. The count is the language model's; the cycle boundaries come from the
periodicity transformer's density (the trained default answers with the count only, and the
density is what it read the count from), and the notes say so.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from countllm.errors import ModelOutputError
from countllm.types import CountResult, Pose, Segment
from countllm.videollm.answer_format import UnparseableAnswer, parse_answer, parse_exercise_answer
from countllm.videollm.inputs import Sample, collate
from countllm.videollm.motion_encoder import encode
from countllm.videollm.prompting import TASKS

DEFAULT_DIR_NAME = "default"


def default_checkpoint() -> Path:
    """The trained default shipped inside the package (countllm/videollm/default/)."""
    return Path(str(resources.files("countllm.videollm"))) / DEFAULT_DIR_NAME


class AnswerError(ModelOutputError):
    """The video-LLM answered something that does not follow the standardized format."""


@lru_cache(maxsize=2)
def _load(checkpoint: str, backbone_path: str | None):
    from countllm.videollm.checkpoint import load_checkpoint  # noqa: PLC0415 — torch/transformers on demand

    return load_checkpoint(checkpoint, backbone_path=backbone_path)


def cycles_from_density(times: np.ndarray, density: np.ndarray, count: int) -> list[Segment]:
    """Cycle k spans the frames where the cumulative density, rescaled to total `count`, is in [k-1, k).

    Rests carry no density, so the cumulative curve is flat there and no cycle covers them.
    """
    total = float(density.sum())
    if count <= 0 or total <= 1e-6:
        return []
    cum = np.concatenate([[0.0], np.cumsum(density)]) * (count / total)  # cum[i]: mass before frame i
    edges = np.append(times, times[-1] + (times[1] - times[0] if len(times) > 1 else 0.1))
    cycles = []
    for k in range(1, count + 1):
        start = edges[int(np.searchsorted(cum, k - 1 + 1e-3, side="left")) - 1]
        if cycles:  # the frame where one cycle hands over to the next belongs to the earlier one
            start = max(start, cycles[-1].end)
        end = edges[min(int(np.searchsorted(cum, k - 1e-3, side="left")), len(edges) - 1)]
        cycles.append(Segment(float(start), float(max(end, start + 1e-3))))
    return cycles


class VideoLLMCounter:
    """Loads a checkpoint lazily (once per process) and answers questions about pose sequences."""

    def __init__(self, checkpoint: str | Path | None = None, backbone_path: str | None = None) -> None:
        self.checkpoint = str(checkpoint or default_checkpoint())
        self.backbone_path = backbone_path

    @property
    def model(self):
        return _load(self.checkpoint, self.backbone_path)

    def answer(self, pose: Pose, question: str | None = None,
               task: str = "count") -> tuple[str, np.ndarray, np.ndarray]:
        """The raw answer text, and the density (T,) with its frame times (T,)."""
        if task not in TASKS:
            raise ValueError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
        model = self.model
        features = encode(model.cfg.encoder, pose=pose)
        sample = Sample(features, task, question or model.prompts.question(task), source=pose.source)
        batch = collate([sample], model.prompts)
        texts, out = model.generate(batch)
        return texts[0], out.density[0].cpu().numpy(), features.times

    def count(self, pose: Pose, question: str | None = None) -> CountResult:
        text, density, times = self.answer(pose, question, "count")
        try:
            parsed = parse_answer(text)
        except UnparseableAnswer as exc:
            raise AnswerError(pose.source, f"the video-LLM's answer is not in the standardized format "
                              f"({exc.reason}): {text[:80]!r}; retrain or use another --method") from None
        estimate = float(density.sum())
        cycles = parsed.cycles if parsed.cycles is not None else cycles_from_density(times, density, parsed.count)
        notes = [f"video-LLM answer: {text!r}", f"periodicity transformer density sums to {estimate:.1f}"]
        if parsed.cycles is None:
            notes.append("cycle boundaries from the periodicity transformer's density (the answer gave the count only)")
        periods = [c.duration for c in cycles]
        return CountResult(
            count=parsed.count, cycles=cycles, method="videollm", signal="count curve (cumulative density)",
            confidence=float(np.exp(-abs(parsed.count - estimate))),  # LM and density head agree → 1
            period_s=float(np.median(periods)) if periods else None, fps=pose.fps,
            duration_s=(len(pose) - 1) / pose.fps if len(pose) else 0.0, notes=notes,
            diagnostics={"density": density, "signal_values": np.cumsum(density), "signal_times": times},
        )

    def name_exercise(self, pose: Pose, question: str | None = None) -> str:
        text, _, _ = self.answer(pose, question, "name")
        try:
            return parse_exercise_answer(text)
        except UnparseableAnswer as exc:
            raise AnswerError(pose.source,
                              f"the video-LLM did not name an exercise ({exc.reason}): {text[:80]!r}") from None
