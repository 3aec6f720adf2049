"""Fit the agent's count confidence on annotated development data: `python -m countllm.agents.ask.calibrate`.

For every item of a RepCountA-style CSV it asks the two witnesses the agent asks (the auto
policy and the similarity counter), records whether the auto count was within ±1 of the truth,
and fits a logistic model of `reconcile.features` (L2-regularised, Newton steps: three
features, no library needed). The primary's confidence it reads is already the counters'
calibrated P(within ±1) (`countllm/counters/calibration.py`), so this fit only adds what the
witness says. It prints the cross-validated AUROC and Brier score of the fit beside the
primary counter's own confidence, and with `--val` (the development val split; the fit never
sees it) the same scores there. Where the fit's cross-validated Brier score on train is no better
than the primary's own confidence, the file keeps the identity (the primary's calibrated
confidence as it is) and records the fit beside it; `calibration.json` says what it was fitted
on. Fit on the TRAIN split, never on held-out data:

    python -m countllm.eval.prepare_countix_pose --data ../shared/data/countix_fitness_pose --out cx
    python -m countllm.finetune.split --annotations cx/annotations.csv
    python -m countllm.agents.ask.calibrate --annotations cx/annotations.train.csv \
        --val cx/annotations.val.csv --media-dir cx --fps 30
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from countllm.benchmarks.annotations import load_annotations
from countllm.benchmarks.confidence import auroc as _auroc
from countllm.benchmarks.confidence import expected_calibration_error
from countllm.counters.calibration import fit_logistic
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


def auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Probability that a random correct item scores above a random wrong one (ties count half);
    NaN when one class is missing."""
    value = _auroc(scores, np.asarray(labels).astype(bool))
    return float("nan") if value is None else value


def scores(p: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """AUROC, Brier and ECE of probabilities p against outcomes y."""
    return {"auroc": round(auroc(p, y), 3), "brier": round(float(np.mean((p - y) ** 2)), 4),
            "ece": round(expected_calibration_error(p, y.astype(bool)), 3)}


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
    parser.add_argument("--val", type=Path, help="annotation CSV to report the fit on (never fitted on)")
    parser.add_argument("--media-dir", type=Path, required=True)
    parser.add_argument("--fps", type=float, help="rate of pose arrays when the CSV has no fps column")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name(CALIBRATION_FILE))
    parser.add_argument("--name", default="", help="what the data is, for the file's fitted_on field")
    args = parser.parse_args(argv)
    x, y, own = collect(args.annotations, args.media_dir, args.fps)
    oof = cross_validated(x, y)
    w, b = fit_logistic(x, y)
    cv, primary = scores(oof, y), scores(own, y)
    report = {"n_items": int(len(y)), "within_one_rate": round(float(y.mean()), 3),
              "auroc_cv": cv["auroc"], "brier_cv": cv["brier"], "ece_cv": cv["ece"],
              "auroc_primary_confidence": primary["auroc"], "brier_primary_confidence": primary["brier"],
              "ece_primary_confidence": primary["ece"]}
    if args.val:
        xv, yv, own_v = collect(args.val, args.media_dir, args.fps)
        report["val"] = {"n_items": int(len(yv)), "within_one_rate": round(float(yv.mean()), 3),
                         "fit": scores(1 / (1 + np.exp(-(xv @ w + b))), yv), "primary_confidence": scores(own_v, yv)}
    print(json.dumps(report, indent=1))
    fitted = {"weights": [round(float(v), 5) for v in w], "bias": round(b, 5)}
    if cv["brier"] < primary["brier"]:
        chosen = dict(fitted, chosen="the fit (its cross-validated Brier score beats the primary's own)")
    else:  # σ(1·logit(p) + 0) = p: the primary's calibrated confidence, as it is
        chosen = {"weights": [1.0, 0.0, 0.0], "bias": 0.0, "fit": fitted,
                  "chosen": "identity: the primary's calibrated confidence (the fit's cross-validated Brier score "
                            "on train is not better)"}
    print(chosen["chosen"])
    payload = {**chosen, "features": ["logit(primary confidence)", "agree within 1", "|gap| / max count"],
               "fitted_on": args.name or str(args.annotations), **report}
    args.out.write_text(json.dumps(payload, indent=1) + "\n")
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
