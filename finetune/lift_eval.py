"""Score a recognizer: recognition accuracy (with a 95 % interval), LiFT partial credit, per class,
the confusion table, and the count MAE/OBO of its integer head.

    python -m countllm.finetune.lift_eval --model countllm/recognize/default \\
        --annotations outputs/countix_pose/annotations.csv --split val
    python -m countllm.finetune.lift_eval --model DIR --synthetic 80      # on generated skeletons
    python -m countllm.finetune.lift_eval --clean-synthetic 4             # every exercise, 4 seeds, 2 layouts

Items of a class the recognizer was not trained on are scored apart (`unseen_class_items`):
they cannot be named, only partly credited.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter, defaultdict
from dataclasses import replace
from typing import Any

import numpy as np

from countllm import labels
from countllm.benchmarks.metrics import count_metrics
from countllm.recognize.recognizer import Recognizer, load_recognizer
from countllm.recognize.words import partial_credit
from countllm.synthetic import SyntheticConfig, make_sequence, to_mediapipe33
from countllm.synthetic.skeleton import EXERCISES
from countllm.types import Pose

from .lift_data import Item, LiftDataConfig, real_items, synthetic_items


def wilson_interval(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a proportion k / n (sane at 0 and n, unlike the normal one)."""
    if n == 0:
        return 0.0, 0.0
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def score_items(recognizer: Recognizer, items: list[Item], count: bool = True) -> dict[str, Any]:
    """Recognition (and count) metrics over `items`; see the module doc."""
    known = set(recognizer.exercises)
    rows = []
    for item in items:
        rec = recognizer.recognize_prepared(item.joints)
        best = max(rec.scores, key=rec.scores.get)
        row = {"source": item.source, "true": item.label, "pred": best, "p_true": rec.scores.get(item.label, 0.0),
               "confidence": rec.confidence, "partial_credit": partial_credit(dict(rec.words), item.label),
               "seen_class": item.label in known}
        if count and item.count is not None:
            row["count"], row["pred_count"] = item.count, recognizer.count_prepared(item.joints, item.label)[0]
        rows.append(row)
    return summarise(rows)


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    seen = [r for r in rows if r["seen_class"]]
    k = sum(r["true"] == r["pred"] for r in seen)
    lo, hi = wilson_interval(k, len(seen))
    per_class: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in rows:
        per_class[r["true"]][0] += r["true"] == r["pred"]
        per_class[r["true"]][1] += 1
    counted = [r for r in rows if "count" in r]
    out = {
        "n_items": len(rows), "n_seen_class": len(seen), "accuracy": k / len(seen) if seen else 0.0,
        "accuracy_95ci": [lo, hi], "partial_credit": float(np.mean([r["partial_credit"] for r in rows])) if rows else 0,
        "nll": float(np.mean([-math.log(max(r["p_true"], 1e-9)) for r in seen])) if seen else 0.0,
        "per_class": {c: {"correct": v[0], "n": v[1], "accuracy": v[0] / v[1]} for c, v in sorted(per_class.items())},
        "confusion": {t: dict(Counter(r["pred"] for r in rows if r["true"] == t)) for t in sorted(per_class)},
        "items": rows,
    }
    if counted:
        out["count"] = count_metrics([r["count"] for r in counted], [r["pred_count"] for r in counted])
        out["count"]["n"] = len(counted)
    return out


def clean_synthetic_check(recognizer: Recognizer, seeds: int = 4) -> dict[str, Any]:
    """The generator's default clip of every exercise (8 reps, seeds 1000…), as H36M-17 and as
    MediaPipe-33, through `recognize` exactly as a user's pose file goes: accuracy and mean
    confidence per exercise and layout. Why: the agent leans on these answers (a squat-then-push-up
    workout splits into two sets; "how many burpees?" on a squat clip is "none" because the
    recognizer is sure it is a squat), and clean clips are the easiest case it must get right."""
    per: dict[str, dict[str, Any]] = {}
    for exercise in sorted(EXERCISES):
        for layout in ("h36m17", "mediapipe33"):
            rows = []
            for seed in range(1000, 1000 + seeds):
                seq = make_sequence(SyntheticConfig(exercise=exercise, n_reps=8, seed=seed))
                joints = seq.pose.joints if layout == "h36m17" else to_mediapipe33(seq.pose.joints)
                rec = recognizer.recognize(Pose(joints.astype(np.float32), seq.pose.valid, seq.pose.fps, layout,
                                                f"synthetic:{exercise}:{seed}"))
                rows.append((rec.exercise == labels.normalize(exercise), rec.confidence, rec.exercise))
            per[f"{exercise} {layout}"] = {"correct": sum(r[0] for r in rows), "n": len(rows),
                                           "mean_confidence": float(np.mean([r[1] for r in rows])),
                                           "predicted": dict(Counter(r[2] for r in rows))}
    n = sum(v["n"] for v in per.values())
    return {"seeds": list(range(1000, 1000 + seeds)), "n": n,
            "accuracy": sum(v["correct"] for v in per.values()) / n,
            "mean_confidence": float(np.mean([v["mean_confidence"] for v in per.values()])),
            "min_class_confidence": min(v["mean_confidence"] for v in per.values()), "per": per}


def format_clean_check(c: dict[str, Any]) -> str:
    lines = [f"clean synthetic ({c['n']} clips, seeds {c['seeds'][0]}-{c['seeds'][-1]}): accuracy "
             f"{c['accuracy']:.3f}, mean confidence {c['mean_confidence']:.3f} (lowest class "
             f"{c['min_class_confidence']:.3f})"]
    for key, v in c["per"].items():
        lines.append(f"  {key:26s} {v['correct']}/{v['n']}  confidence {v['mean_confidence']:.3f}  {v['predicted']}")
    return "\n".join(lines)


def format_summary(name: str, s: dict[str, Any]) -> str:
    lo, hi = s["accuracy_95ci"]
    lines = [f"{name}: {s['n_items']} items ({s['n_seen_class']} of trained classes): accuracy "
             f"{s['accuracy']:.3f} (95% {lo:.3f}-{hi:.3f}), partial credit {s['partial_credit']:.3f}, "
             f"NLL {s['nll']:.3f}"]
    for c, v in s["per_class"].items():
        confused = ", ".join(f"{p} {n}" for p, n in sorted(s["confusion"][c].items(), key=lambda x: -x[1]))
        lines.append(f"  {c:16s} {v['correct']:3d}/{v['n']:<3d} {v['accuracy']:.2f}   predicted: {confused}")
    if "count" in s:
        m = s["count"]
        lines.append(f"  count ({m['n']} clips): MAE {m['mae']:.3f}  OBO {m['obo']:.3f}  exact {m['exact']:.3f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="recognizer folder (default: the shipped one)")
    parser.add_argument("--annotations", help="RepCountA-style CSV of pose files")
    parser.add_argument("--split", default="val", choices=("train", "dev", "val", "all"))
    parser.add_argument("--synthetic", type=int, default=0, help="also score this many generated clips")
    parser.add_argument("--synthetic-seed", type=int, default=9_000, help="seed offset, far from training's 0")
    parser.add_argument("--clean-synthetic", type=int, default=0, metavar="SEEDS",
                        help="the generator's default clip of every exercise for this many seeds, both layouts")
    parser.add_argument("--no-count", action="store_true")
    parser.add_argument("--json", help="write the metrics (items included) here")
    args = parser.parse_args(argv)
    import torch  # noqa: PLC0415

    torch.set_num_threads(1)
    recognizer = load_recognizer(args.model)
    data = LiftDataConfig(real_annotations=args.annotations, synthetic_clips=args.synthetic)
    report = {}
    if args.annotations:
        report["real"] = score_items(recognizer, real_items(data, recognizer.cfg.image, args.split), not args.no_count)
        print(format_summary(f"real ({args.split})", report["real"]))
    if args.synthetic:
        items = synthetic_items(replace(data, synthetic_seed=0), recognizer.cfg.image, seed_offset=args.synthetic_seed)
        report["synthetic"] = score_items(recognizer, items, not args.no_count)
        print(format_summary("synthetic", report["synthetic"]))
    if args.clean_synthetic:
        report["clean_synthetic"] = clean_synthetic_check(recognizer, args.clean_synthetic)
        print(format_clean_check(report["clean_synthetic"]))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(report, handle, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
