"""The frozen visual encoder of the video-LLM: a skeleton sequence → per-frame motion features.

Why not raw joints? Counting is a question about *time*, not about appearance, and a small
model trained on a few hundred clips cannot discover periodicity from raw coordinates. The
features therefore carry periodicity explicitly, the way RepNet's self-similarity bottleneck
and LMRL's similarity branch do (docs/design.md §4):

* the body-relative candidate signals of the training-free pose counter (joint trajectories in
  torso lengths, joint angles in radians), resampled to one analysis rate and detrended over a
  few seconds so a slow drift does not look like motion; their amplitudes are kept (not
  z-scored), so a joint that does not move stays near zero;
* each frame's *lag profile*: its similarity to the frames 1…L steps ahead and behind, taken
  from the temporal self-similarity matrix of those signals. A repetition of period P shows as a
  peak at lag P wherever it happens, whatever the exercise — the class-agnostic cue.

Nothing here is learned, so features are computed once per clip and cached during training.
Frame embeddings (`Features`, e.g. MobileNetV2) go through the same path after a PCA, so
`kind="embeddings"` or `"both"` work for clips where the pose is unreliable.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from countllm.pose.layouts import H36M
from countllm.signals.pose_signals import pose_signal_names, pose_signals, smooth
from countllm.types import Features, Pose

KINDS = ("pose", "embeddings", "both")


@dataclass(frozen=True)
class MotionEncoderConfig:
    kind: str = "pose"  # one of KINDS
    sample_fps: float = 10.0  # analysis rate: periods from 0.3 s are resolved
    max_frames: int = 400  # longer clips are sampled more sparsely (40 s at 10 fps)
    max_lag: int = 64  # lag profile length L in frames: periods up to 6.4 s at 10 fps
    detrend_s: float = 6.0  # moving-average window removed from every signal
    embedding_components: int = 32  # PCA components kept from frame embeddings
    smooth_window: int = 3  # smoothing of the pose signals before resampling (as the pose counter's)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown encoder kind {self.kind!r}; choose one of {', '.join(KINDS)}")
        if self.max_lag < 2 or self.max_frames < 8 or self.sample_fps <= 0:
            raise ValueError("max_lag >= 2, max_frames >= 8 and sample_fps > 0 are required")


N_POSE_SIGNALS = len(pose_signal_names())  # 34: 12 tracked joints × (x, y) + root (x, y) + 8 angles


@dataclass
class MotionFeatures:
    """What the periodicity transformer reads for one clip."""

    values: np.ndarray  # (T, F) float32
    times: np.ndarray  # (T,) seconds of each sampled frame
    fps: float  # the rate actually used (lower than sample_fps for long clips)

    def __len__(self) -> int:
        return int(self.values.shape[0])


def feature_dim(cfg: MotionEncoderConfig) -> int:
    """F: signal channels + the forward and backward lag profiles."""
    channels = {"pose": N_POSE_SIGNALS, "embeddings": cfg.embedding_components,
                "both": N_POSE_SIGNALS + cfg.embedding_components}[cfg.kind]
    return channels + 2 * cfg.max_lag


def analysis_times(duration_s: float, cfg: MotionEncoderConfig) -> tuple[np.ndarray, float]:
    """Sample times at `sample_fps`, or fewer (evenly spread) when the clip is long."""
    n = int(np.floor(duration_s * cfg.sample_fps)) + 1
    fps = cfg.sample_fps
    if n > cfg.max_frames:
        n, fps = cfg.max_frames, (cfg.max_frames - 1) / max(duration_s, 1e-9)
    return np.arange(n) / fps, fps


def resample(values: np.ndarray, fps: float, times: np.ndarray) -> np.ndarray:
    """Linear interpolation of (T, C) rows sampled at `fps` onto `times`."""
    source = np.arange(values.shape[0]) / fps
    return np.stack([np.interp(times, source, values[:, c]) for c in range(values.shape[1])], axis=1)


def pose_channels(pose: Pose, smooth_window: int = 3) -> np.ndarray:
    """(T, 34) body-relative signals in their native units, at the pose's own rate."""
    if pose.layout != "h36m17" or pose.joints.shape[1] != len(H36M):
        raise ValueError(f"the motion encoder reads H36M-17 poses, got layout {pose.layout!r}")
    signals = pose_signals(pose, smooth_window=smooth_window)
    return signals.values.T.astype(np.float64)


def embedding_channels(features: Features, components: int) -> np.ndarray:
    """(T, components) principal components of frame embeddings, in units of their total spread."""
    x = features.vectors.astype(np.float64)
    x = x - x.mean(axis=0, keepdims=True)
    _, s, vt = np.linalg.svd(x, full_matrices=False)
    k = min(components, vt.shape[0])
    pcs = x @ vt[:k].T / (np.sqrt((s ** 2).sum() / max(len(x), 1)) + 1e-9)
    return np.pad(pcs, ((0, 0), (0, components - k)))


def lag_profiles(x: np.ndarray, max_lag: int) -> np.ndarray:
    """(T, 2L): similarity of frame t to frames t±1…t±L (0 beyond the clip's ends).

    Similarity is exp(−d² / mean d²) over the whole clip, so it adapts to each clip's spread.
    """
    t = x.shape[0]
    d2 = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)  # (T, T)
    sim = np.exp(-d2 / (d2.mean() + 1e-9))
    out = np.zeros((t, 2 * max_lag), dtype=np.float64)
    for lag in range(1, max_lag + 1):
        if lag >= t:
            break
        diag = np.diagonal(sim, offset=lag)  # sim[i, i + lag]
        out[: t - lag, lag - 1] = diag  # forward
        out[lag:, max_lag + lag - 1] = diag  # backward
    return out


def encode_channels(channels: np.ndarray, fps: float, cfg: MotionEncoderConfig) -> MotionFeatures:
    """Resample, detrend and describe already-extracted (T, C) channels."""
    duration = (channels.shape[0] - 1) / fps
    times, used_fps = analysis_times(duration, cfg)
    x = resample(channels, fps, times)
    window = max(3, int(round(cfg.detrend_s * used_fps)) | 1)
    x = x - smooth(x.T, window).T
    values = np.concatenate([x, lag_profiles(x, cfg.max_lag)], axis=1).astype(np.float32)
    return MotionFeatures(values=values, times=times, fps=used_fps)


def encode(cfg: MotionEncoderConfig, pose: Pose | None = None, embeddings: Features | None = None) -> MotionFeatures:
    """Motion features of one clip from whichever inputs `cfg.kind` asks for."""
    if cfg.kind in ("pose", "both") and pose is None:
        raise ValueError(f"encoder kind {cfg.kind!r} needs a pose sequence")
    if cfg.kind in ("embeddings", "both") and embeddings is None:
        raise ValueError(f"encoder kind {cfg.kind!r} needs frame embeddings")
    if cfg.kind == "pose":
        return encode_channels(pose_channels(pose, cfg.smooth_window), pose.fps, cfg)
    emb = embedding_channels(embeddings, cfg.embedding_components)
    if cfg.kind == "embeddings":
        return encode_channels(emb, embeddings.fps, cfg)
    # both: bring the embeddings onto the pose's time axis, then one feature matrix
    pose_ch = pose_channels(pose, cfg.smooth_window)
    emb_on_pose = resample(emb, embeddings.fps, np.arange(pose_ch.shape[0]) / pose.fps)
    return encode_channels(np.concatenate([pose_ch, emb_on_pose], axis=1), pose.fps, cfg)
