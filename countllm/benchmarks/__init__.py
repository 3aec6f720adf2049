"""Benchmark formats and scores, in the core so that `eval/`, `finetune/` and `agents/` share them
without importing each other: `annotations` reads and writes RepCountA-style CSVs, `metrics`
holds the pure scoring functions (formulas in their docstrings).
"""

from countllm.benchmarks.annotations import (
    Annotation,
    RowError,
    cycles_seconds,
    load_annotations,
    write_annotations,
)
from countllm.benchmarks.metrics import (
    count_metrics,
    cycles_to_frame_labels,
    edit_score,
    f1_at_overlap,
    f1_score,
    frame_accuracy,
    localization_metrics,
    match_segments,
    segments_to_frames,
)

__all__ = [
    "Annotation",
    "RowError",
    "count_metrics",
    "cycles_seconds",
    "cycles_to_frame_labels",
    "edit_score",
    "f1_at_overlap",
    "f1_score",
    "frame_accuracy",
    "load_annotations",
    "localization_metrics",
    "match_segments",
    "segments_to_frames",
    "write_annotations",
]
