"""Fit the agent's count confidence on annotated development data: `python -m countllm.agents.ask.calibrate`.

For every item of a RepCountA-style CSV it asks the two witnesses the agent asks (the auto
policy and the similarity counter), records whether the auto count was within ±1 of the truth,
and fits a logistic model of `reconcile.features` (L2-regularised, Newton steps: three
features, no library needed). It prints the cross-validated AUROC and Brier score of the fit
beside the primary counter's own confidence, so the file is only replaced when the fit is
better, and writes `calibration.json` with what it was fitted on.

    python -m countllm.agents.ask.calibrate --annotations cx/annotations.csv --media-dir cx --fps 30
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from countllm.benchmarks.annotations import load_annotations
from countllm.errors import CountLLMError
from countllm.media import DecodeOptions, MediaInputs
from countllm.pose.io import POSE_SUFFIXES

from .reconcile import CALIBRATION_FILE, WITNESS_METHOD, features
from .tools import VideoTools


def find_media(media_dir: Path, name: str) -> Path:
    """The annotated video, else a pose array with its stem (as `countllm eval` looks)."""
    candidates = [media_dir / name] + [media_dir / (Path(name).stem + suffix) for suffix in POSE_SUFFIXES]
    return next((c for c in candidates if c.is_file()), candidates[0])


def collect(annotations: Path, media_dir: Path, fps: float | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(features (N, 3), within ±1 (N,), the primary's own confidence (N,)) over the items."""
    items, _ = load_annotations(annotations)
    rows, hits, own = [], [], []
    for ann in tqdm(items, desc="calibration items", unit="item"):
        try:
            tools = VideoTools(MediaInputs.open(find_media(media_dir, ann.name), DecodeOptions(fps=ann.fps or fps)))
            primary = tools.count("auto")
            witness = tools.count(WITNESS_METHOD).count if primary.method == "pose" else None
        except CountLLMError as exc:
            print(f"skipped {ann.name}: {exc.one_line()}", file=sys.stderr)
            continue
        rows.append(features(primary.confidence, primary.count, witness))
        hits.append(abs(primary.count - ann.count) <= 1)
        own.append(primary.confidence)
    return np.asarray(rows, float), np.asarray(hits, float), np.asarray(own, float)


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1.0, steps: int = 50) -> tuple[np.ndarray, float]:
    """Weights and bias maximising the L2-penalised log-likelihood (Newton's method)."""
    xb = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros(xb.shape[1])
    penalty = np.diag([l2] * x.shape[1] + [0.0])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-xb @ w))
        grad = xb.T @ (p - y) + penalty @ w
        hess = xb.T @ (xb * (p * (1 - p))[:, None]) + penalty
        step = np.linalg.solve(hess + 1e-9 * np.eye(len(w)), grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w[:-1], float(w[-1])


def auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Probability that a random correct item scores above a random wrong one (ties count half)."""
    pos, neg = scores[labels == 1], scores[labels == 0]
    if not len(pos) or not len(neg):
        return float("nan")
    greater = (pos[:, None] > neg[None, :]).mean()
    ties = (pos[:, None] == neg[None, :]).mean()
    return float(greater + 0.5 * ties)


def cross_validated(x: np.ndarray, y: np.ndarray, folds: int = 5, seed: int = 0) -> np.ndarray:
    """Out-of-fold probabilities: each item scored by a fit that never saw it."""
    order = np.random.default_rng(seed).permutation(len(y))
    out = np.zeros(len(y))
    for k in range(folds):
        test = order[k::folds]
        train = np.setdiff1d(order, test)
        w, b = fit_logistic(x[train], y[train])
        out[test] = 1 / (1 + np.exp(-(x[test] @ w + b)))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m countllm.agents.ask.calibrate", description=__doc__.split("\n")[0])
    parser.add_argument("--annotations", type=Path, required=True)
    parser.add_argument("--media-dir", type=Path, required=True)
    parser.add_argument("--fps", type=float, help="rate of pose arrays when the CSV has no fps column")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name(CALIBRATION_FILE))
    parser.add_argument("--name", default="", help="what the data is, for the file's fitted_on field")
    args = parser.parse_args(argv)
    x, y, own = collect(args.annotations, args.media_dir, args.fps)
    oof = cross_validated(x, y)
    w, b = fit_logistic(x, y)
    brier = lambda p: float(np.mean((p - y) ** 2))  # noqa: E731
    report = {"n_items": int(len(y)), "within_one_rate": round(float(y.mean()), 3),
              "auroc_cv": round(auroc(oof, y), 3), "brier_cv": round(brier(oof), 4),
              "auroc_primary_confidence": round(auroc(own, y), 3), "brier_primary_confidence": round(brier(own), 4)}
    print(json.dumps(report, indent=1))
    payload = {"weights": [round(float(v), 5) for v in w], "bias": round(b, 5),
               "features": ["logit(primary confidence)", "agree within 1", "|gap| / max count"],
               "fitted_on": args.name or str(args.annotations), **report}
    args.out.write_text(json.dumps(payload, indent=1) + "\n")
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
