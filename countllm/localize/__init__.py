"""Stage 4b: localizers — which spans of a video hold the repetition (and which are rests)."""

from countllm.localize.foreground import ForegroundConfig, foreground_mask, rest_segments

__all__ = ["ForegroundConfig", "foreground_mask", "rest_segments"]
