"""Turn the Countix-Fitness pose bundle into what `countllm eval` reads.

The bundle is a folder with `poses_mediapipe33_f16.npz` (one (T, 33, 3) float16 MediaPipe
sequence per name) and `gt.csv` (`name,type,count`): the 148 clips of the public Countix-Fitness
pose set, 8 exercise classes. It is research material and does not ship with countllm; point
`--data` at wherever you keep a copy. `countllm eval` wants a RepCountA-style CSV and a folder
with one `<name>.npy` per item, the layout users already keep their own pose data in, so the
same command scores both.

    python -m countllm.eval.prepare_countix_pose --data PATH/TO/countix_fitness_pose --out outputs/countix_pose
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

from countllm.benchmarks.annotations import Annotation, write_annotations


def prepare(data_dir: Path, out_dir: Path) -> Path:
    """Write `<out>/<name>.npy` for every sequence and `<out>/annotations.csv`; return the CSV."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / "gt.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    annotations = []
    with np.load(data_dir / "poses_mediapipe33_f16.npz") as bundle:
        for row in rows:
            np.save(out_dir / f"{row['name']}.npy", bundle[row["name"]].astype(np.float32))
            annotations.append(Annotation(name=f"{row['name']}.npy", action_type=row["type"],
                                          count=int(row["count"])))
    csv_path = out_dir / "annotations.csv"
    write_annotations(csv_path, annotations)
    return csv_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="folder with gt.csv and the .npz")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    args = parser.parse_args()
    print(prepare(args.data, args.out))


if __name__ == "__main__":
    main()
