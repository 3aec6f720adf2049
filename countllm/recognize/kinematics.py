"""A posture-and-motion head beside the transformer: which exercise a few seconds of joints look like.

Why a second head: the transformer (model.py) reads motion images and has to learn posture,
mirror symmetry and which limb moves from about a hundred real clips; on the Countix-Fitness
development poses it names 50 % of the held-out clips. A multinomial logistic regression on
a few summary numbers of each 3.5 s window — where the trunk sits, where each pair of limbs
sits and how far it travels, the knee, elbow, shoulder and hip angles, which way the torso
points, where the hands and feet are relative to the shoulders and hips — needs far fewer
examples, and averaged over a clip's windows it was right on 83 % of the training clips in
5-fold cross-validation (docs/design.md §2). The recognizer adds its
log-probabilities to the transformer's exercise scores with a weight fitted on held-out clips
(`recognizer.Recognizer.exercise_scores`).

The features are **mirror-invariant** by construction (each window is first flipped so that the
head is right of the hips, left and right limbs are averaged, and limb positions are taken as
distances from the centre of the box), so a clip filmed from the other side reads the same —
the flip cost 1 of 104 clips in cross-validation against signed positions, which would tie the
head to the side the development videos happened to be filmed from. They are computed on
prepared joints (`motion_image.prepare_joints`: smoothed, per-frame box-normalised, 12.5 fps),
exactly what the transformer sees.

Because the head is small and is fitted in a second, adding an exercise from a few clips refits
it (finetune/lift_add_exercise.py); the window features it was fitted on travel with the
checkpoint (`kinematic_examples.npz`) so that users can do so without the training data.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from countllm.pose.layouts import H36M

HEAD_FILE = "kinematic_head.json"
EXAMPLES_FILE = "kinematic_examples.npz"
TRUNK = ("root", "spine", "thorax", "neck", "head")
LIMB_PAIRS = (("l_hip", "r_hip"), ("l_knee", "r_knee"), ("l_ankle", "r_ankle"),
              ("l_shoulder", "r_shoulder"), ("l_elbow", "r_elbow"), ("l_wrist", "r_wrist"))
ANGLE_PAIRS = ((("l_hip", "l_knee", "l_ankle"), ("r_hip", "r_knee", "r_ankle")),
               (("l_shoulder", "l_elbow", "l_wrist"), ("r_shoulder", "r_elbow", "r_wrist")),
               (("thorax", "l_shoulder", "l_elbow"), ("thorax", "r_shoulder", "r_elbow")),
               (("spine", "l_hip", "l_knee"), ("spine", "r_hip", "r_knee")))
# Where the hands and feet are relative to the body: what tells a front raise (wrist up to the
# shoulder) from a rope pushdown (wrist down to the hip) once the box has removed scale.
RELATIVE_PAIRS = ((("l_wrist", "l_shoulder"), ("r_wrist", "r_shoulder")), (("l_ankle", "l_hip"), ("r_ankle", "r_hip")),
                  (("l_wrist", "l_hip"), ("r_wrist", "r_hip")))


@dataclass(frozen=True)
class KinematicHeadConfig:
    """Window and fit settings (chosen by 5-fold cross-validation on the training clips only)."""

    window_s: float = 3.52  # 44 frames at 12.5 fps; 2 s windows: 0.78, 4 s: 0.80, 6.4 s: 0.75, whole clips: 0.69
    hop_s: float = 1.76
    weight_decay: float = 0.005  # L2 on the standardised weights (0.003: 0.817, 0.01: 0.808)
    synthetic_share: float = 0.25  # of the total sample weight given to generated clips (0: 0.79, 0.5: 0.79)
    # Each exercise weighs the same (its windows share it): the development poses have 3 sit-up
    # clips beside 15 bench presses. Cross-validated: per class 0.817, per clip 0.79, per window 0.81.
    # Refit on train + dev once dev has chosen the fusion weight, temperature and floor
    # (finetune/lift_head.with_head): real val 0.773 -> 0.795 with the same transformer.
    refit_with_dev: bool = True


def _spread(s: np.ndarray) -> list[float]:
    return [float(s.mean()), float(s.std()), float(np.percentile(s, 90) - np.percentile(s, 10))]


def _angle(j: np.ndarray, a: str, b: str, c: str) -> np.ndarray:
    u, v = j[:, H36M[a]] - j[:, H36M[b]], j[:, H36M[c]] - j[:, H36M[b]]
    cos = (u * v).sum(-1) / (np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1) + 1e-6)
    return np.arccos(np.clip(cos, -1.0, 1.0))


def window_features(joints: np.ndarray) -> np.ndarray:
    """(F,) summary of one window of prepared joints (T ≥ 2, 17, 3): see the module doc."""
    j = np.array(joints, dtype=np.float64)
    if (j[:, H36M["head"], 0] - j[:, H36M["root"], 0]).mean() < 0:  # face one way: the head right of the hips
        j[..., 0] = -j[..., 0]
    f: list[float] = []
    for name in TRUNK:
        for axis in range(3):
            f += _spread(j[:, H36M[name], axis])
    for a, b in LIMB_PAIRS:
        for axis in range(3):
            both = 0.5 * (j[:, H36M[a], axis] + j[:, H36M[b], axis])
            f += _spread(np.abs(both) if axis == 0 else both)
            f.append(float(np.abs(np.diff(j[:, H36M[a], axis])).mean() + np.abs(np.diff(j[:, H36M[b], axis])).mean()))
    for left, right in ANGLE_PAIRS:
        f += _spread(0.5 * (_angle(j, *left) + _angle(j, *right)))
    torso = j[:, H36M["thorax"]] - j[:, H36M["root"]]
    f += _spread(np.abs(torso[:, 0])) + _spread(torso[:, 1])
    for (la, lb), (ra, rb) in RELATIVE_PAIRS:
        both = 0.5 * (j[:, H36M[la]] - j[:, H36M[lb]] + j[:, H36M[ra]] - j[:, H36M[rb]])
        for axis in range(3):
            f += _spread(np.abs(both[:, axis]) if axis == 0 else both[:, axis])
    return np.array(f)


def clip_windows(joints: np.ndarray, fps: float, cfg: KinematicHeadConfig) -> list[np.ndarray]:
    """Windows of `cfg.window_s` every `cfg.hop_s` (one window when the clip is shorter)."""
    n = len(joints)
    size = max(2, int(round(cfg.window_s * fps)))
    hop = max(1, int(round(cfg.hop_s * fps)))
    if n <= size:
        return [joints]
    return [joints[a:a + size] for a in range(0, n - size + 1, hop)]


def clip_features(joints: np.ndarray, fps: float, cfg: KinematicHeadConfig) -> np.ndarray:
    """(W, F) features of every window of a clip of prepared joints."""
    if len(joints) < 2:
        raise ValueError("a clip needs at least 2 frames of joints")
    return np.stack([window_features(w) for w in clip_windows(joints, fps, cfg)])


@dataclass
class KinematicHead:
    """A fitted head: standardisation, weights and the exercises (ids and display names) it knows."""

    exercises: list[str]
    names: dict[str, str]  # id -> display name, so a user-added exercise reads back without its labels file
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray  # (F, E)
    bias: np.ndarray  # (E,)
    cfg: KinematicHeadConfig

    def window_log_probs(self, features: np.ndarray) -> np.ndarray:
        z = (features - self.mean) / self.scale @ self.weights + self.bias
        z = z - z.max(axis=1, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=1, keepdims=True))

    def log_probs(self, joints: np.ndarray, fps: float) -> np.ndarray:
        """(E,) the mean over the clip's windows of each exercise's log-probability."""
        return self.window_log_probs(clip_features(joints, fps, self.cfg)).mean(axis=0)

    # ------------------------------------------------------------------ files
    def to_dict(self) -> dict[str, Any]:
        return {"exercises": self.exercises, "names": self.names, "mean": self.mean.tolist(),
                "scale": self.scale.tolist(), "weights": self.weights.tolist(), "bias": self.bias.tolist(),
                "config": asdict(self.cfg)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> KinematicHead:
        head = cls(list(data["exercises"]), dict(data["names"]), np.array(data["mean"]), np.array(data["scale"]),
                   np.array(data["weights"]), np.array(data["bias"]), KinematicHeadConfig(**data["config"]))
        n_features, n_exercises = head.weights.shape
        if head.mean.shape != (n_features,) or head.scale.shape != (n_features,) or \
                head.bias.shape != (n_exercises,) or len(head.exercises) != n_exercises:
            raise ValueError("kinematic head: array shapes do not match")
        return head

    def save(self, folder: Path) -> None:
        (Path(folder) / HEAD_FILE).write_text(json.dumps(self.to_dict()))


def load_head(folder: Path) -> KinematicHead | None:
    """The head saved in a checkpoint folder, or None when it has none (an older checkpoint)."""
    path = Path(folder) / HEAD_FILE
    if not path.is_file():
        return None
    return KinematicHead.from_dict(json.loads(path.read_text()))


@dataclass
class Examples:
    """Window features with their exercise and sample weight: what a head is fitted on."""

    features: np.ndarray  # (N, F)
    labels: list[str]
    weights: np.ndarray  # (N,)

    def save(self, folder: Path) -> None:
        np.savez_compressed(Path(folder) / EXAMPLES_FILE, features=self.features.astype(np.float16),
                            labels=np.array(self.labels), weights=self.weights.astype(np.float32))

    def plus(self, other: Examples) -> Examples:
        return Examples(np.concatenate([self.features, other.features]), self.labels + other.labels,
                        np.concatenate([self.weights, other.weights]))

    def reweighted(self, label_id: str, factor: float) -> Examples:
        """The same examples, those of `label_id` weighing `factor` times as much."""
        scale = np.array([factor if lab == label_id else 1.0 for lab in self.labels])
        return Examples(self.features, list(self.labels), self.weights * scale)

    def without(self, label_id: str) -> Examples:
        keep = np.array([lab != label_id for lab in self.labels])
        return Examples(self.features[keep], [lab for lab, k in zip(self.labels, keep, strict=True) if k],
                        self.weights[keep])


def load_examples(folder: Path) -> Examples | None:
    path = Path(folder) / EXAMPLES_FILE
    if not path.is_file():
        return None
    with np.load(path) as data:
        return Examples(data["features"].astype(np.float64), [str(s) for s in data["labels"]],
                        data["weights"].astype(np.float64))


def examples_of(clips: list[tuple[np.ndarray, str]], fps: float, cfg: KinematicHeadConfig,
                total_weight: float = 1.0) -> Examples:
    """Window features of (prepared joints, exercise) clips; every exercise weighs the same and
    its windows share that weight, the clips together weighing `total_weight`."""
    feats = [clip_features(joints, fps, cfg) for joints, _ in clips]
    windows_of: dict[str, int] = {}
    for f, (_, label) in zip(feats, clips, strict=True):
        windows_of[label] = windows_of.get(label, 0) + len(f)
    share = total_weight / len(windows_of)
    labs = [label for f, (_, label) in zip(feats, clips, strict=True) for _ in range(len(f))]
    weights = np.array([share / windows_of[label] for label in labs])
    return Examples(np.concatenate(feats), labs, weights)


def fit_head(examples: Examples, exercises: list[str], names: dict[str, str],
             cfg: KinematicHeadConfig) -> KinematicHead:
    """Weighted, L2-regularised multinomial logistic regression (L-BFGS) over `exercises`."""
    import torch  # noqa: PLC0415

    unknown = sorted(set(examples.labels) - set(exercises))
    if unknown:
        raise ValueError(f"examples of exercises the head is not asked to know: {unknown}")
    mean = examples.features.mean(axis=0)
    scale = examples.features.std(axis=0) + 1e-6
    x = torch.tensor((examples.features - mean) / scale, dtype=torch.float64)
    y = torch.tensor([exercises.index(lab) for lab in examples.labels])
    w = torch.tensor(examples.weights / examples.weights.sum(), dtype=torch.float64)
    weights = torch.zeros(x.shape[1], len(exercises), dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(len(exercises), dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([weights, bias], max_iter=500, line_search_fn="strong_wolfe")

    def loss() -> torch.Tensor:
        optimizer.zero_grad()
        value = (torch.nn.functional.cross_entropy(x @ weights + bias, y, reduction="none") * w).sum()
        value = value + cfg.weight_decay * (weights ** 2).sum()
        value.backward()
        return value

    optimizer.step(loss)
    return KinematicHead(list(exercises), {e: names[e] for e in exercises}, mean, scale,
                         weights.detach().numpy(), bias.detach().numpy(), cfg)
