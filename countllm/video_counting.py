"""Counting straight from a video file: decode in chunks, estimate pose or embed frames, count.

Kept apart from `pipeline.py` so that counting a pose file never imports decord, MediaPipe
or torch. The video is streamed (`video.iter_chunks`), never held whole in memory.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from countllm.counters.similarity_counter import SimilarityCounter
from countllm.errors import NoPersonError
from countllm.pipeline import CountOptions, count_pose, prior_unused_note
from countllm.pose.estimator import MediaPipePoseEstimator
from countllm.types import CountResult, Features, Pose
from countllm.video.decode import DecodeConfig, iter_chunks


def decode_config(options: CountOptions) -> DecodeConfig:
    return DecodeConfig(target_fps=options.sample_fps, max_side=options.max_side,
                        override_fps=options.fps)


def estimate_pose(path: Path, options: CountOptions) -> Pose:
    estimator = MediaPipePoseEstimator()
    try:
        return estimator.estimate(iter_chunks(path, decode_config(options)))
    finally:
        estimator.close()


def embed_video(path: Path, options: CountOptions) -> Features:
    from countllm.embeddings.frame_encoder import FrameEncoder  # noqa: PLC0415 — torch on demand

    encoder = FrameEncoder()
    parts, fps = [], 0.0
    for frames in iter_chunks(path, decode_config(options)):
        parts.append(encoder.encode_images(frames.images))
        fps = frames.fps
    return Features(vectors=np.concatenate(parts), fps=fps, kind="mobilenet_v2", source=str(path))


def tracked_fraction(pose: Pose, result: CountResult) -> float:
    """Share of the repetitive span (first to last counted cycle, or the whole clip) in which
    the pose estimator actually saw the person."""
    if result.cycles:
        a = int(result.cycles[0].start * pose.fps)
        b = max(a + 1, int(np.ceil(result.cycles[-1].end * pose.fps)))
        return float(pose.valid[a:b].mean())
    return pose.detected_fraction


def count_video(path: Path, options: CountOptions) -> CountResult:
    if options.method == "similarity":
        return _similarity(path, options)
    if options.method in ("pose", "baseline", "videollm"):
        return count_pose(estimate_pose(path, options), options.method, options.prior, options)
    return _count_video_auto(path, options)


def _similarity(path: Path, options: CountOptions) -> CountResult:
    """The self-similarity counter on frame embeddings; it cannot read a prior, and says so."""
    result = SimilarityCounter().count(embed_video(path, options))
    if options.prior is not None:
        result.notes.insert(0, prior_unused_note(options.prior, "similarity"))
    return result


def _count_video_auto(path: Path, options: CountOptions) -> CountResult:
    try:
        pose = estimate_pose(path, options)
    except NoPersonError as exc:
        reason = f"auto: {exc.message.split(';')[0]}; used the self-similarity counter"
    else:
        result = count_pose(pose, "pose", options.prior)
        tracked = tracked_fraction(pose, result)
        if tracked >= options.min_tracked_fraction:
            result.notes.insert(0, f"auto: person tracked in {tracked:.0%} of the repetitive span; "
                                "used the pose counter")
            return result
        reason = (f"auto: person tracked in only {tracked:.0%} of the repetitive span; "
                  "used the self-similarity counter")
    result = _similarity(path, options)
    result.notes.insert(0, reason)
    return result
