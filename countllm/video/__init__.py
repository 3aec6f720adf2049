"""Stage 1 of the pipeline: a video file becomes `Frames` (RGB, resampled, resized, timed).

`probe` says what a file holds, `iter_chunks` streams it chunk by chunk for long videos,
`read_frames` returns a short clip whole. `write_video` is the inverse, for tests and
synthetic clips. Unusable files raise `countllm.errors.InputError`.
"""

from countllm.video.decode import (
    DecodeConfig,
    VideoInfo,
    effective_fps,
    iter_chunks,
    output_size,
    probe,
    read_frames,
    sampled_indices,
)
from countllm.video.writer import write_video

__all__ = [
    "DecodeConfig",
    "VideoInfo",
    "effective_fps",
    "iter_chunks",
    "output_size",
    "probe",
    "read_frames",
    "sampled_indices",
    "write_video",
]
