"""Stage 4: counters. Each takes a `Pose` or `Features` and returns a `CountResult`.

- `PoseCounter`: joints and angles, the strong signal for human exercise.
- `SimilarityCounter`: temporal self-similarity of frame embeddings, for anything that moves.
- `BaselineCounter`: the naive reference (first principal component + autocorrelation peaks).
"""

from countllm.counters.baseline import BaselineCounter
from countllm.counters.pose_counter import PoseCounter, PoseCounterConfig
from countllm.counters.similarity_counter import SimilarityCounter, SimilarityCounterConfig

__all__ = ["BaselineCounter", "PoseCounter", "PoseCounterConfig", "SimilarityCounter", "SimilarityCounterConfig"]
