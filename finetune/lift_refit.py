"""Refit the recognizer's posture-and-motion head on a trained checkpoint, keeping its transformer.

    python -m countllm.finetune.lift_refit --config finetune/recipes/lift/default.yaml \\
        --checkpoint countllm/recognize/default [--out DIR] [key=value ...]

What is fitted on which clips is finetune/lift_head.py's (train: the head; dev: temperature,
head weight and floor; val: scored once). Why a command of its own: a new feature or other data
for the head should not cost a transformer training run.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

from countllm.recognize.checkpoint import load_checkpoint

from .lift_eval import clean_synthetic_check, format_clean_check, format_summary, score_items
from .lift_head import TEMPERATURES, with_head, write_folder
from .lift_train import load_config, load_items


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, type=Path, help="the recipe YAML the checkpoint was trained with")
    parser.add_argument("--checkpoint", required=True, type=Path, help="a recognizer folder (its transformer is kept)")
    parser.add_argument("--out", type=Path, help="where to write the new folder (default: over --checkpoint)")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="dotted recipe overrides")
    args = parser.parse_args(argv)
    import torch  # noqa: PLC0415

    try:
        cfg, raw = load_config(args.config, args.overrides)
        model, _ = load_checkpoint(args.checkpoint)
    except (FileNotFoundError, ValueError, TypeError, KeyError) as exc:
        print(f"lift_refit: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    torch.set_num_threads(cfg.threads)
    items = load_items(cfg)
    recognizer, examples, report = with_head(model, items["train"], items["dev"], cfg.head, TEMPERATURES)
    val = score_items(recognizer, items["val"]) if items["val"] else None
    clean = clean_synthetic_check(recognizer, cfg.clean_synthetic_seeds) if cfg.clean_synthetic_seeds else None
    previous = args.checkpoint / "training.json"
    training = json.loads(previous.read_text()) if previous.is_file() else {}
    training.update({"kinematic_head": report, "calibration": report["calibration"], "dev": report["dev"],
                     "val": val, "clean_synthetic": clean})
    training.setdefault("recipe", raw)["head"] = asdict(cfg.head)
    folder = write_folder(recognizer, examples, args.out or args.checkpoint, training)
    print(json.dumps(report["dev"]), file=sys.stderr)
    if val is not None:
        print(format_summary("val", val), file=sys.stderr)
    if clean is not None:
        print(format_clean_check(clean), file=sys.stderr)
    print(f"checkpoint with head: {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())


if __name__ == "__main__":
    sys.exit(main())
