"""Training-free temporal-self-similarity counter on frame embeddings (RepNet-style).

For things that are not a human body — a saw, a swing, a shovel — there are no joints to
follow. Frames of the same phase of a repetition look alike, so the temporal self-similarity
matrix (TSM) of frame embeddings has stripes one period apart. Its rows are the similarity of
every frame to one reference frame; its principal directions summarise all of them. The
candidate signals are the leading principal components of the embeddings (the TSM's dominant
structure) plus the similarity to the frames that best express each component; the shared
periodic back end picks and counts the cleanest one.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from countllm.counters.periodic import PeriodicCountConfig, count_signals
from countllm.signals.periodicity import PeriodConfig, autocorrelation, estimate_period_from_acf
from countllm.signals.pose_signals import SignalSet, smooth
from countllm.types import CountResult, Features

EMBEDDING_KINDS = ("mobilenet_v2",)  # appearance features of whole frames (not joints, not motion profiles)


@dataclass
class SimilarityCounterConfig:
    n_components: int = 6  # principal directions of the embeddings used as candidate signals
    smooth_window: int = 3
    periodic: PeriodicCountConfig = field(default_factory=PeriodicCountConfig)
    # The partial-cycle rule for frame embeddings (`EMBEDDING_KINDS`), softer than the 0.45 that
    # joint coordinates keep (docs/design.md §6.5): an embedding is not linear in how far a thing
    # moved, and light or zoom changes rescale it, so a complete cycle at a clip's edge often
    # swings only 0.35–0.45 of the typical amplitude. None: the `periodic` rule for every input.
    embedding_min_swing: float | None = 0.35


def self_similarity(vectors: np.ndarray) -> np.ndarray:
    """(T, T) cosine self-similarity matrix of (T, D) frame vectors."""
    v = vectors / (np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-8)
    return v @ v.T


def embedding_signals(features: Features, cfg: SimilarityCounterConfig,
                      tsm: np.ndarray | None = None) -> SignalSet:
    """Leading principal components of the centred embeddings, and for each the TSM row of
    the frame where that component is strongest (the similarity-to-a-key-frame signal).
    `tsm` is the (T, T) self-similarity when the caller already has it."""
    x = features.vectors.astype(np.float64)
    x = x - x.mean(axis=0, keepdims=True)
    u, s, _ = np.linalg.svd(x, full_matrices=False)
    k = min(cfg.n_components, len(s))
    names, values = [], []
    if tsm is None:
        tsm = self_similarity(features.vectors.astype(np.float64))
    for i in range(k):
        component = u[:, i] * s[i]
        names.append(f"embedding_pc{i + 1}")
        values.append(component)
        names.append(f"similarity_to_frame_{int(np.argmax(component))}")
        values.append(tsm[int(np.argmax(component))])
    stacked = smooth(np.stack(values), cfg.smooth_window)
    stacked = stacked - stacked.mean(axis=1, keepdims=True)
    return SignalSet(names=names, values=stacked.astype(np.float32), fps=features.fps)


def similarity_period(vectors: np.ndarray, fps: float, cfg: PeriodConfig) -> float | None:
    """Period of the whole feature vector: the peak of the TSM's mean diagonal profile.

    The mean similarity between frames `lag` apart is (up to normalisation) the pooled
    autocorrelation of all feature dimensions. It peaks when the *whole* appearance repeats,
    so it is immune to the half-period harmonics that single principal components carry.
    """
    centred = vectors.astype(np.float64) - vectors.mean(axis=0, keepdims=True)
    pooled = sum(autocorrelation(centred[:, d]) * centred[:, d].var() for d in range(centred.shape[1]))
    if not np.any(pooled):
        return None
    estimate = estimate_period_from_acf(pooled / pooled[0], fps, cfg)
    return None if estimate is None else estimate.period_frames


class SimilarityCounter:
    """Counts repetitions from frame embeddings; `count(features)` returns a `CountResult`."""

    name = "similarity"

    def __init__(self, config: SimilarityCounterConfig | None = None) -> None:
        self.config = config or SimilarityCounterConfig()

    def periodic_config(self, kind: str) -> PeriodicCountConfig:
        """The back end's settings for features of this kind (the edge rule differs, see the config)."""
        cfg = self.config
        if kind not in EMBEDDING_KINDS or cfg.embedding_min_swing is None:
            return cfg.periodic
        return replace(cfg.periodic, cycles=replace(cfg.periodic.cycles, min_swing=cfg.embedding_min_swing))

    def count(self, features: Features) -> CountResult:
        tsm = self_similarity(features.vectors.astype(np.float64))  # (T, T), once: signals and plot
        signals = embedding_signals(features, self.config, tsm)
        hint = similarity_period(features.vectors, features.fps, self.config.periodic.period)
        result = count_signals(signals, self.name, self.periodic_config(features.kind), period_hint=hint)
        result.diagnostics["self_similarity"] = tsm.astype(np.float32)
        return result
