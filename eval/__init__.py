"""Benchmark evaluation for countllm: annotation files in, count and localization scores out.

Installed as `countllm.eval`. It imports the core library, never the reverse; only the CLI's
`eval` subcommand reaches it. `annotations` reads and writes RepCountA-style CSVs and
`metrics` holds the pure scoring functions (formulas in their docstrings).
"""

from countllm.eval.annotations import (
    Annotation,
    RowError,
    cycles_seconds,
    load_annotations,
    write_annotations,
)
from countllm.eval.metrics import (
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
