"""Write a synthetic benchmark in the RepCountA layout: pose arrays plus per-cycle annotations.

Real development sets here have counts but no cycle boundaries, so localization (frame
accuracy, Edit, F1@k) is measured on synthetic sequences whose every cycle is known. The set
mixes exercises with tempo drift, rests, partial cycles, noise and missing frames.

    python -m countllm.eval.prepare_synthetic --out outputs/synthetic_pose [--n 48] [--seed 0]
    countllm eval --annotations outputs/synthetic_pose/annotations.csv --media-dir outputs/synthetic_pose
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from countllm.benchmarks.annotations import Annotation, write_annotations
from countllm.synthetic import EXERCISES, SyntheticConfig, make_sequence

CONDITIONS: dict[str, dict] = {
    "clean": {},
    "drift": {"tempo_drift": 0.6},
    "rest": {"rests": [(2, 5.0)]},
    "partial": {"partial_cycle_at_end": 0.5},
    "missing": {"missing_fraction": 0.1, "missing_gap_s": 0.8},
    "noisy": {"noise_std": 0.02, "amplitude_jitter": 0.3},
}


def sample_config(index: int, rng: np.random.Generator) -> tuple[str, SyntheticConfig]:
    exercise = sorted(EXERCISES)[index % len(EXERCISES)]
    condition = sorted(CONDITIONS)[(index // len(EXERCISES)) % len(CONDITIONS)]
    cfg = SyntheticConfig(exercise=exercise, n_reps=int(rng.integers(4, 13)), seed=int(rng.integers(1 << 30)),
                          **CONDITIONS[condition])
    return f"{index:03d}_{exercise}_{condition}", cfg


def prepare(out_dir: Path, n: int = 48, seed: int = 0) -> Path:
    """Write `<out>/<name>.npy` (H36M-17, zero rows where unseen) and `<out>/annotations.csv`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    annotations = []
    for index in range(n):
        name, cfg = sample_config(index, rng)
        seq = make_sequence(cfg)
        np.save(out_dir / f"{name}.npy", seq.pose.joints)
        annotations.append(Annotation(name=f"{name}.npy", action_type=cfg.exercise, count=seq.count,
                                      fps=cfg.fps, cycle_frames=[(float(a), float(b)) for a, b in seq.cycle_frames]))
    csv_path = out_dir / "annotations.csv"
    write_annotations(csv_path, annotations)
    return csv_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--n", type=int, default=48)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(prepare(args.out, args.n, args.seed))


if __name__ == "__main__":
    main()
