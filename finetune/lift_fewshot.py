"""Few-shot curves of "add your own exercise" (finetune/lift_add_exercise.py) on real poses.

    python -m countllm.finetune.lift_fewshot --annotations outputs/countix_pose/annotations.csv [--plot F.png]

Each real class is held back in turn: the posture-and-motion head is refitted on the shipped
checkpoint's examples with every window of that class removed (real and generated), plus N
training clips of it (N = 1, 3, 5, 10, fewer when the class has fewer), exactly as the add
command weighs them; then the val clips (the project's split, never trained on) are named by
the head alone. Why the head alone: the shipped transformer was trained on every class, so
fusing it would leak the class being "added". Printed: per N, the held-back class's val
accuracy and the accuracy over all val clips, averaged over the classes (and over 3 draws of
the N clips).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from countllm.recognize.checkpoint import DEFAULT_FOLDER
from countllm.recognize.kinematics import clip_features, examples_of, fit_head, load_examples, load_head
from countllm.recognize.motion_image import MotionImageConfig

SHOTS = (1, 3, 5, 10)


def curves(annotations: str, draws: int = 3) -> dict[str, dict[str, list[float]]]:
    from countllm.finetune.lift_data import LiftDataConfig, real_items  # noqa: PLC0415

    head, stored = load_head(DEFAULT_FOLDER), load_examples(DEFAULT_FOLDER)
    cfg = LiftDataConfig(real_annotations=annotations)
    image = MotionImageConfig(**{k: v for k, v in json.loads((DEFAULT_FOLDER / "config.json").read_text())
                                 ["model"]["image"].items()})
    train, val = real_items(cfg, image, "train"), real_items(cfg, image, "val")
    val_features = [clip_features(it.joints, image.fps, head.cfg) for it in val]
    share = stored.weights.sum() / len(head.exercises)
    out: dict[str, dict[str, list[float]]] = {}
    rng = np.random.default_rng(0)
    for held in sorted({it.label for it in val}):
        own = [it for it in train if it.label == held]
        rows: dict[str, list[float]] = {}
        for n in SHOTS:
            if n > len(own):
                continue
            held_acc, all_acc = [], []
            for _ in range(draws if n < len(own) else 1):
                picks = [own[i] for i in rng.choice(len(own), n, replace=False)]
                examples = stored.without(held).plus(examples_of([(it.joints, held) for it in picks], image.fps,
                                                                 head.cfg, share))
                fitted = fit_head(examples, head.exercises, head.names, head.cfg)
                names = [fitted.exercises[int(fitted.window_log_probs(f).mean(0).argmax())] for f in val_features]
                right = [p == it.label for p, it in zip(names, val, strict=True)]
                held_acc.append(float(np.mean([r for r, it in zip(right, val, strict=True) if it.label == held])))
                all_acc.append(float(np.mean(right)))
            rows[str(n)] = [float(np.mean(held_acc)), float(np.mean(all_acc))]
        out[held] = rows
        print(f"{held:14s} " + "  ".join(f"N={n}: {v[0]:.2f} (all {v[1]:.2f})" for n, v in rows.items()),
              file=sys.stderr, flush=True)
    return out


def summary(table: dict[str, dict[str, list[float]]]) -> dict[str, list[float]]:
    """Per N: [mean held-back accuracy, mean all-val accuracy, number of classes averaged]."""
    return {str(n): [float(np.mean([r[str(n)][0] for r in table.values() if str(n) in r])),
                     float(np.mean([r[str(n)][1] for r in table.values() if str(n) in r])),
                     float(sum(str(n) in r for r in table.values()))] for n in SHOTS
            if any(str(n) in r for r in table.values())}


def plot(table: dict[str, dict[str, list[float]]], path: Path) -> None:
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, rows in table.items():
        ax.plot([int(n) for n in rows], [v[0] for v in rows.values()], marker="o", alpha=0.5, label=name)
    mean = summary(table)
    ax.plot([int(n) for n in mean], [v[0] for v in mean.values()], color="black", lw=3, label="mean")
    ax.set(xlabel="clips of the new exercise (N)", ylabel="its val clips named right",
           title="Adding an exercise: head refitted with N clips", ylim=(-0.05, 1.05))
    ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--annotations", required=True, help="RepCountA-style CSV of the real pose files")
    parser.add_argument("--plot", type=Path, help="write the curves here (PNG)")
    parser.add_argument("--json", type=Path, help="write the table here")
    args = parser.parse_args(argv)
    if not Path(args.annotations).is_file():
        print(f"lift_fewshot: error: {args.annotations}: no such file; make it with "
              "`python -m countllm.eval.prepare_countix_pose`", file=sys.stderr)
        return 2
    table = curves(args.annotations)
    for n, (held, every, k) in summary(table).items():
        print(f"N={n}: held-back class {held:.3f}, all val {every:.3f} (mean over {k:.0f} classes)")
    if args.plot:
        plot(table, args.plot)
    if args.json:
        args.json.write_text(json.dumps({"per_class": table, "mean": summary(table)}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
