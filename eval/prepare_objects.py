"""Write the class-agnostic synthetic benchmark: rendered object videos with every cycle known.

The exercise benchmark (`prepare_synthetic`) is poses; this one is videos of things that are not
people — a wheel turning, a ball bouncing, a pendulum, a pulsing disc, a sliding block — under
the nuisances real footage has (camera shake, zoom, an occluding post, a light change, tempo
drift, rests, a cut-off last cycle), with 2–200 repetitions. It is what the frame-embedding
counters are measured and tuned on; the layout is RepCountA's, so `countllm eval` reads it.

    python -m countllm.eval.prepare_objects --out outputs/synthetic_objects [--n 36] [--seed 0] [--max-reps 200] \\
        [--bystander]
    countllm eval --annotations outputs/synthetic_objects/annotations.csv \\
        --media-dir outputs/synthetic_objects --method similarity
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from countllm.benchmarks.annotations import Annotation, write_annotations
from countllm.synthetic.objects import MOTIONS, ObjectSceneConfig, render_object_clip

# One nuisance at a time (so a failure names its cause), and one mix of them.
CONDITIONS: dict[str, dict] = {
    "clean": {},
    "drift": {"tempo_drift": 0.6},
    "rests": {"rests": "two"},
    "partial": {"partial_cycle_at_end": 0.5},
    "shake": {"camera_shake_px": 4.0},
    "zoom": {"zoom": 0.35},
    "occluded": {"occlusion": 0.12},
    "lighting": {"lighting": 0.35},
    "mixed": {"camera_shake_px": 2.0, "zoom": 0.2, "lighting": 0.2, "tempo_drift": 0.3, "rests": "one"},
}
MAX_DURATION_S = 120.0  # a 200-rep clip is kept to two minutes by a faster tempo
BYSTANDER_SIZE = (352, 224)  # the person takes the left 38 %; the object keeps about the usual 224 px
MIN_PERIOD_S = 0.6  # what the 10 fps analysis resolves with room to spare (the tempo look handles faster)


def sample_config(index: int, rng: np.random.Generator, fps: float = 30.0, max_reps: int = 200,
                  bystander: bool = False) -> tuple[str, ObjectSceneConfig]:
    """The index picks motion and condition (5 and 9 are coprime: 45 distinct pairs); the rest
    (count log-uniform in 2–`max_reps`, tempo, amplitude, size, colours) is drawn from `rng`.
    `bystander` adds a gesturing person on the left of a wider frame and changes nothing else:
    the same seed gives the same clips with and without one, so the two sets pair up."""
    motion = MOTIONS[index % len(MOTIONS)]
    condition = list(CONDITIONS)[index % len(CONDITIONS)]
    n_reps = int(round(np.exp(rng.uniform(np.log(2), np.log(max_reps)))))
    period = float(np.clip(rng.uniform(0.7, 2.2), MIN_PERIOD_S, max(MIN_PERIOD_S, MAX_DURATION_S / n_reps)))
    options = dict(CONDITIONS[condition])
    rests = options.pop("rests", None)
    if rests and n_reps >= 3:
        where = sorted(rng.choice(np.arange(n_reps - 1), size=1 if rests == "one" or n_reps < 5 else 2, replace=False))
        options["rests"] = [(int(i), float(rng.uniform(2.5, 6.0))) for i in where]
    cfg = ObjectSceneConfig(motion=motion, n_reps=n_reps, period_s=period, fps=fps,
                            amplitude=float(rng.uniform(0.5, 1.0)), object_size=float(rng.uniform(0.1, 0.22)),
                            lead_in_s=float(rng.uniform(0.3, 2.0)), lead_out_s=float(rng.uniform(0.3, 2.0)),
                            seed=int(rng.integers(1 << 30)), **options)
    if bystander:
        cfg = replace(cfg, bystander=True, size=BYSTANDER_SIZE)
    return f"{index:03d}_{motion}_{condition}", cfg


def prepare(out_dir: Path, n: int = 36, seed: int = 0, max_reps: int = 200, bystander: bool = False) -> Path:
    """Write `<out>/<name>.mp4` and `<out>/annotations.csv` (counts and per-cycle frames)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    annotations = []
    for index in tqdm(range(n), desc="rendering", unit="clip"):
        name, cfg = sample_config(index, rng, max_reps=max_reps, bystander=bystander)
        clip = render_object_clip(cfg, out_dir / f"{name}.mp4")
        annotations.append(Annotation(name=clip.path.name, action_type=cfg.motion, count=clip.count, fps=cfg.fps,
                                      cycle_frames=[(float(a), float(b)) for a, b in clip.cycle_frames]))
    csv_path = out_dir / "annotations.csv"
    write_annotations(csv_path, annotations)
    return csv_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--n", type=int, default=36)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-reps", type=int, default=200, help="a smaller cap makes a quick smoke set")
    parser.add_argument("--bystander", action="store_true",
                        help="a person who gestures without repeating stands beside every object")
    args = parser.parse_args()
    print(prepare(args.out, args.n, args.seed, args.max_reps, args.bystander))


if __name__ == "__main__":
    main()
