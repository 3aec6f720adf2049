"""`countllm eval`: count every annotated item of a benchmark and score the counts and cycles.

Each annotation row names a video; the media folder holds either that video or a pose array
`<stem>.npy`/`.npz` for it. Every item is counted with the same options; an item that fails
(missing file, unreadable video, no person) is recorded with its error and the run goes on,
so one bad file never costs the rest of a benchmark.

With `priors` (action → `ActionPrior`), each item is counted with the prior its annotation
`type` names (`match_action`), so a run with and without priors compares like with like;
items whose type matches no prior are counted unguided, and the report says how many had one.

With `workers` > 1 the items are counted on a local process pool, the engine of `countllm
batch` (`countllm.batch.engines`); the report lists them in annotation order either way.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from countllm.batch.engines import EngineConfig, make_engine
from countllm.benchmarks.annotations import Annotation, RowError, load_annotations
from countllm.benchmarks.confidence import confidence_metrics
from countllm.benchmarks.metrics import count_metrics, localization_metrics, segments_to_frames
from countllm.errors import CountLLMError, InputError
from countllm.eval.recognition import recognition_item, recognition_metrics
from countllm.media import MediaInputs
from countllm.pipeline import CountOptions, count_file, count_inputs
from countllm.pose.io import POSE_SUFFIXES
from countllm.priors import ActionPrior, match_action
from countllm.types import JSON_SCHEMA_VERSION, CountResult

CountFunction = Callable[[Path, CountOptions], CountResult]


@dataclass
class ItemResult:
    name: str
    gt_count: int
    pred_count: int | None = None
    error: str | None = None
    method: str = ""
    confidence: float | None = None
    localization: dict[str, float] = field(default_factory=dict)
    prior: str | None = None  # the semantic prior the item was counted with
    recognition: dict[str, Any] = field(default_factory=dict)  # pred_exercise, ... (eval --recognize)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "gt_count": self.gt_count, "pred_count": self.pred_count}
        if self.error is not None:
            out["error"] = self.error
        else:
            out.update(method=self.method, confidence=round(self.confidence or 0.0, 3))
            if self.prior is not None:
                out["prior"] = self.prior
            if self.localization:
                out["localization"] = {k: round(v, 2) for k, v in self.localization.items()}
        out.update(self.recognition)
        return out


def find_media(media_dir: Path, name: str) -> Path:
    """The video named in the annotation, else a pose array with the same stem."""
    direct = media_dir / name
    if direct.is_file():
        return direct
    for suffix in POSE_SUFFIXES:
        candidate = media_dir / (Path(name).stem + suffix)
        if candidate.is_file():
            return candidate
    raise InputError(str(direct), f"not found in {media_dir} (nor {Path(name).stem}.npy/.npz)")


def annotation_frame_rate(media: Path, ann: Annotation, options: CountOptions, result: CountResult) -> float:
    """The rate annotation frame numbers refer to: the file's own fps column, else the
    video's native rate, else the pose array's rate (one row per frame)."""
    if ann.fps:
        return float(ann.fps)
    if media.suffix.lower() in POSE_SUFFIXES:
        return result.fps
    from countllm.video.decode import probe  # noqa: PLC0415 — only videos need decord

    return probe(media, options.fps).native_fps


def evaluate_item(ann: Annotation, media_dir: Path, options: CountOptions, counter: CountFunction,
                  priors: dict[str, ActionPrior] | None = None, recognize: bool = False) -> ItemResult:
    prior = match_action(ann.action_type, priors) if priors else options.prior
    item = ItemResult(name=ann.name, gt_count=ann.count, prior=prior.action if prior else None)
    try:
        media = find_media(media_dir, ann.name)
        item_options = replace(options, fps=ann.fps or options.fps, prior=prior)
        if recognize:  # one decode and pose for both the count and the recognizer
            inputs = MediaInputs.open(media, item_options.decode_options())
            result = count_inputs(inputs, item_options) if counter is count_file else counter(media, item_options)
            from countllm.recognize import load_recognizer  # noqa: PLC0415 — torch on demand; cached per process

            item.recognition = recognition_item(inputs.pose(), load_recognizer(None))
        else:
            result = counter(media, item_options)
    except CountLLMError as exc:  # recorded for this item; the benchmark goes on
        item.error = exc.message if exc.source in ("", ann.name) else str(exc)
        return item
    item.pred_count, item.method, item.confidence = result.count, result.method, result.confidence
    if ann.cycle_frames:
        rate = annotation_frame_rate(media, ann, options, result)
        n_frames = int(round(result.duration_s * rate))
        item.localization = localization_metrics(segments_to_frames(result.cycles, rate),
                                                 ann.cycle_frames, n_frames)
    return item


def summarize(items: list[ItemResult], row_errors: list[RowError]) -> dict[str, Any]:
    """Count metrics over the items that produced a count; localization averaged over items
    with annotated cycles; failures counted, never scored as zero. The confidence scores
    (`benchmarks.confidence`: AUROC against "within ±1", OBO at 80 % / 90 % coverage, ECE, Brier,
    reliability bins) are over the same counted items."""
    done = [i for i in items if i.pred_count is not None]
    metrics: dict[str, Any] = {"n_items": len(items), "n_failed": len(items) - len(done),
                               "n_malformed_rows": len(row_errors)}
    if any(i.prior is not None for i in items):
        metrics["n_with_prior"] = sum(i.prior is not None for i in items)
    if done:
        metrics.update(count_metrics([i.gt_count for i in done], [i.pred_count for i in done]))
        metrics.update(confidence_metrics([i.gt_count for i in done], [i.pred_count for i in done],
                                          [i.confidence or 0.0 for i in done]))
    located = [i.localization for i in done if i.localization]
    for key in (located[0] if located else {}):
        metrics[key] = float(np.mean([loc[key] for loc in located]))
    return metrics


def evaluate(annotations: Path, media_dir: Path, options: CountOptions,
             counter: CountFunction = count_file, progress: bool = True,
             priors: dict[str, ActionPrior] | None = None, workers: int = 1,
             recognize: bool = False) -> dict[str, Any]:
    """Run the benchmark; returns {"metrics", "items", "malformed_rows"}. With `priors`, each
    item is counted with the prior its annotation type names (see the module docstring). With
    `workers` > 1, `counter` must be picklable (a module-level function such as `count_file`)."""
    anns, row_errors = load_annotations(annotations)
    if not media_dir.is_dir():
        raise InputError(str(media_dir), "media directory not found")
    if recognize:  # a missing or broken recognizer is one error before any item, not one per item
        from countllm.recognize import load_recognizer  # noqa: PLC0415

        load_recognizer(None)
    one = partial(evaluate_item, media_dir=media_dir, options=options, counter=counter, priors=priors,
                  recognize=recognize)
    done: dict[int, ItemResult] = {}
    with make_engine(EngineConfig("local", workers)) as engine, tqdm(
            total=len(anns), desc=f"eval {options.method}", unit="item", disable=not progress) as bar:
        for i, item in engine.map_unordered(one, anns):
            done[i] = item
            bar.update(1)
    items = [done[i] for i in range(len(anns))]
    metrics = summarize(items, row_errors)
    if recognize:
        metrics["recognition"] = recognition_metrics([i.to_json() for i in items], [a.action_type for a in anns])
    return {
        "schema_version": JSON_SCHEMA_VERSION,
        "metrics": metrics,
        "items": [i.to_json() for i in items],
        "malformed_rows": [{"row": e.row_number, "name": e.name, "error": e.message} for e in row_errors],
    }


def write_report(report: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2))
