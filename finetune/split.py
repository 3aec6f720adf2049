"""Write the train / val parts of an annotation CSV, as the training recipes split it.

    python -m countllm.finetune.split --annotations outputs/countix_pose/annotations.csv

writes `annotations.train.csv` and `annotations.val.csv` beside it, so every counter can be
scored on exactly the items the video-LLM never trained on:

    countllm eval --annotations outputs/countix_pose/annotations.val.csv --media-dir outputs/countix_pose --method pose
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from countllm.benchmarks.annotations import load_annotations, write_annotations
from countllm.finetune.data import DataConfig, split_of


def write_splits(annotations: Path, val_fraction: float = DataConfig.val_fraction) -> dict[str, Path]:
    rows, errors = load_annotations(annotations)
    if errors:
        raise ValueError(f"{annotations}: {len(errors)} malformed rows, first: {errors[0]}")
    out = {}
    for split in ("train", "val"):
        path = annotations.with_suffix(f".{split}.csv")
        write_annotations(path, [a for a in rows if split_of(a.name, val_fraction) == split])
        out[split] = path
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--annotations", type=Path, required=True)
    parser.add_argument("--val-fraction", type=float, default=DataConfig.val_fraction)
    args = parser.parse_args(argv)
    for split, path in write_splits(args.annotations, args.val_fraction).items():
        print(f"{split}: {path} ({len(load_annotations(path)[0])} items)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
