"""Fit the counters' confidence maps (countllm/counters/calibration.json) on a TRAIN split, report on VAL.

For each method, every item of both splits is counted once; the raw confidence (what the counter
computes before any map: `diagnostics["raw_confidence"]` when a map is already shipped) and the
map's features are kept. A logistic map of the features (`counters/calibration.py`) is fitted on
the train items only, and raw against calibrated AUROC / ECE / Brier / OBO@80 % are printed for
the val items, which the fit never saw. Held-out data is never passed here.

The split is the project's one development split (`countllm.finetune.split`: by a hash of the
file name, the video-LLM's train / val), so nothing is fitted on an item another model is
validated on:

    python -m countllm.eval.prepare_countix_pose --data ../shared/data/countix_fitness_pose --out /tmp/cx
    python -m countllm.finetune.split --annotations /tmp/cx/annotations.csv
    python -m countllm.eval.calibrate_confidence --train /tmp/cx/annotations.train.csv \\
        --val /tmp/cx/annotations.val.csv --media-dir /tmp/cx --fps 30 --write

A map is shipped only if on val it is no worse than the raw score in Brier score (a proper
scoring rule; ECE over 44 items is noisier): a fit that does not carry over from train to val
would make the confidence look calibrated without being so. Every other method's fit is
recorded under "not_shipped" with its val report, so the file says why that counter's
confidence stays raw. Without `--write` the fit is printed and nothing is replaced.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from countllm.benchmarks.annotations import load_annotations
from countllm.benchmarks.confidence import auroc, brier, expected_calibration_error, obo_at_coverage, within_one
from countllm.counters import calibration
from countllm.counters.calibration import FEATURES, ConfidenceMap, fit_standardized
from countllm.errors import CountLLMError
from countllm.eval.run import find_media
from countllm.pipeline import CountOptions, count_file

DEFAULT_METHODS = ("pose", "similarity_pose", "similarity", "baseline")
DEFAULT_FEATURES = ("logit_confidence",)
# Counters left uncalibrated, and why (written into the JSON, said in the docs).
UNCALIBRATED = {
    "videollm": "the trained video-LLM's agreement of its LM and density heads, not fitted to outcomes",
    "lift": "the LiFT head's own probability of its count ±1 (a trained model's), not re-fitted here",
    "motion": ("its raw score (periodicity x regularity), not fitted: the 4 development jump-rope videos are too "
               "few; it ranks answers but overstates P(within ±1) on long fast sets (raw mean 0.66 there, 1 of 4 "
               "within ±1)"),
}


@dataclass
class Collected:
    """One method's counted items: features (N, F), raw confidences, hits, per split."""

    x: dict[str, np.ndarray]
    raw: dict[str, np.ndarray]
    hits: dict[str, np.ndarray]


def collect(method: str, splits: dict[str, Path], media_dir: Path, fps: float | None,
            features: tuple[str, ...]) -> Collected:
    """Count every item of every split with `method`; features are computed on the RAW result."""
    out = Collected({}, {}, {})
    for split, csv_path in splits.items():
        anns, _ = load_annotations(csv_path)
        rows, raw, gt, pred = [], [], [], []
        for ann in anns:
            try:
                result = count_file(find_media(media_dir, ann.name), CountOptions(method=method, fps=ann.fps or fps))
            except CountLLMError as exc:
                print(f"{method}: skipped {ann.name}: {exc.one_line()}", file=sys.stderr)
                continue
            result = replace(result, confidence=result.diagnostics.get("raw_confidence", result.confidence))
            rows.append([FEATURES[f](result) for f in features])
            raw.append(result.confidence)
            gt.append(ann.count)
            pred.append(result.count)
        out.x[split], out.raw[split] = np.asarray(rows, float), np.asarray(raw, float)
        out.hits[split] = within_one(gt, pred)
    return out


def scores(confidence: np.ndarray, hits: np.ndarray) -> dict[str, Any]:
    a = auroc(confidence, hits)
    return {"auroc": None if a is None else round(a, 3), "ece": round(expected_calibration_error(confidence, hits), 3),
            "brier": round(brier(confidence, hits), 4), "obo@0.8": round(obo_at_coverage(confidence, hits, 0.8), 3),
            "mean_confidence": round(float(np.mean(confidence)), 3)}


def fit_method(method: str, data: Collected, features: tuple[str, ...], l2: float) -> dict[str, Any]:
    """The map fitted on train and its report on val (raw against calibrated)."""
    w, b = fit_standardized(data.x["train"], data.hits["train"].astype(float), l2)
    fitted = ConfidenceMap(method, features, tuple(float(v) for v in w), b)
    z = b + data.x["val"] @ w
    calibrated = 1 / (1 + np.exp(-z))
    return {"features": list(features), "weights": [round(float(v), 5) for v in fitted.weights],
            "bias": round(b, 5), "n_train": int(len(data.hits["train"])),
            "train_within_one_rate": round(float(data.hits["train"].mean()), 3),
            "n_val": int(len(data.hits["val"])), "val_within_one_rate": round(float(data.hits["val"].mean()), 3),
            "val_raw": scores(data.raw["val"], data.hits["val"]),
            "val_calibrated": scores(calibrated, data.hits["val"])}


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=Path(__file__).parent, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m countllm.eval.calibrate_confidence",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--train", type=Path, required=True, help="annotation CSV the maps are fitted on")
    parser.add_argument("--val", type=Path, required=True, help="annotation CSV the maps are reported on")
    parser.add_argument("--media-dir", type=Path, required=True)
    parser.add_argument("--fps", type=float, help="rate of pose arrays when the CSV has no fps column")
    parser.add_argument("--methods", default=",".join(DEFAULT_METHODS))
    parser.add_argument("--features", default=",".join(DEFAULT_FEATURES), help=f"of {', '.join(FEATURES)}")
    parser.add_argument("--l2", type=float, default=1.0, help="ridge penalty on the z-scored features")
    parser.add_argument("--name", default="", help="what the data is, for the file's fitted_on field")
    parser.add_argument("--write", action="store_true", help="replace the shipped calibration.json")
    parser.add_argument("--out", type=Path, default=Path(calibration.__file__).with_name(calibration.CALIBRATION_FILE))
    args = parser.parse_args(argv)
    features = tuple(args.features.split(","))
    fits = {}
    for method in args.methods.split(","):
        data = collect(method, {"train": args.train, "val": args.val}, args.media_dir, args.fps, features)
        fits[method] = fit_method(method, data, features, args.l2)
        print(f"{method}: val raw {fits[method]['val_raw']}  calibrated {fits[method]['val_calibrated']}")
    ship = {m for m, f in fits.items() if f["val_calibrated"]["brier"] <= f["val_raw"]["brier"]}
    payload = {"meaning": "P(|count - truth| <= 1)", "fitted_on": args.name or str(args.train),
               "train": str(args.train.name), "val": str(args.val.name), "l2": args.l2, "commit": git_commit(),
               "maps": {m: f for m, f in fits.items() if m in ship},
               "not_shipped": {m: f for m, f in fits.items() if m not in ship}, "uncalibrated": UNCALIBRATED}
    if args.write:
        args.out.write_text(json.dumps(payload, indent=1) + "\n")
        print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
