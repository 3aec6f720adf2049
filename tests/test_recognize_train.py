"""The recognizer recipe through its real entry point: a tiny model, a few steps, what lands on disk."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from countllm.recognize import load_recognizer

REPO = Path(__file__).resolve().parents[1]


def tiny_recipe(tmp_path: Path) -> Path:
    recipe = yaml.safe_load((REPO / "finetune/recipes/lift/default.yaml").read_text())
    recipe.update(output_dir=str(tmp_path / "run"), lr=2e-3, max_epochs=3, max_batches_per_epoch=3, batch_size=8,
                  dev_synthetic_clips=6, clean_synthetic_seeds=1)
    recipe["arch"].update(hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64)
    recipe["data"].update(synthetic_clips=12, real_annotations=None, synthetic_exercises=["squat", "jumping_jack",
                                                                                          "bicep_curl"])
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "countllm.finetune.lift_train", *args], capture_output=True,
                          text=True, timeout=600, env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})


@pytest.mark.slow  # ~32 s: the smallest real training run; -m slow keeps the default suite under 15 minutes
def test_training_smoke_run_resume_and_checkpoint(tmp_path):
    recipe = tiny_recipe(tmp_path)
    first = run("--config", str(recipe), "max_epochs=2")
    assert first.returncode == 0, first.stderr[-2000:]
    final = tmp_path / "run" / "final"
    assert {p.name for p in final.iterdir()} == {"config.json", "model.safetensors", "training.json",
                                                 "kinematic_head.json", "kinematic_examples.npz"}
    training = json.loads((final / "training.json").read_text())
    losses = [h["train_loss"] for h in training["history"]]
    assert len(losses) == 2 and losses[1] < losses[0]
    clips = training["data"]["train_clips"]
    assert set(clips) == {"synthetic bicep_curl", "synthetic jumping_jack", "synthetic squat"}
    assert sum(clips.values()) == 12
    assert training["calibration"]["temperature"] > 0 and 0.2 <= training["calibration"]["confidence_floor"] <= 0.6
    resumed = subprocess.run([str(REPO / ".venv/bin/countllm"), "finetune", "--config", str(recipe)],
                             capture_output=True, text=True, timeout=600,
                             env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})
    # `countllm finetune` dispatches on `kind: lift`; max_epochs=3: one more epoch, from last/
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "starting at epoch 3" in resumed.stderr
    assert len(json.loads((final / "training.json").read_text())["history"]) == 3
    recognizer = load_recognizer(final)
    assert recognizer.exercises == ["squat", "jumping_jack", "bicep_curl"]
    assert (final / "model.safetensors").stat().st_size < 5_000_000


def test_bad_recipe_is_one_line(tmp_path):
    recipe = tiny_recipe(tmp_path)
    result = run("--config", str(recipe), "arch.layers=2")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "unknown keys ['layers']" in result.stderr


def test_epoch_draws_balance_real_classes_and_subsample_synthetic():
    import numpy as np

    from countllm.finetune.lift_data import Item, LiftDataConfig, epoch_draws

    def item(label: str, i: int, synthetic: bool) -> Item:
        return Item(np.zeros((20, 17, 3), np.float32), label, 3, [] if synthetic else None, f"{label}{i}")

    items = [item("squat", i, False) for i in range(12)] + [item("sit_up", i, False) for i in range(3)] + \
        [item("lunge", i, True) for i in range(50)]
    cfg = LiftDataConfig(real_crops_per_epoch=60, synthetic_per_epoch=10, crops_per_synthetic=2)
    draws = epoch_draws(items, np.random.default_rng(0), cfg)
    real = [d for d in draws if d.cycles is None]
    assert sum(d.label == "squat" for d in real) == sum(d.label == "sit_up" for d in real) == 30
    assert {d.source for d in real if d.label == "sit_up"} == {"sit_up0", "sit_up1", "sit_up2"}
    assert {d.source for d in real if d.label == "squat"} == {f"squat{i}" for i in range(12)}  # 30 ≥ 12: all seen
    synthetic = [d for d in draws if d.cycles is not None]
    assert len(synthetic) == 20 and len({d.source for d in synthetic}) == 10
    fixed = epoch_draws(items, np.random.default_rng(0), LiftDataConfig(crops_per_real=2, crops_per_synthetic=1))
    assert len(fixed) == 15 * 2 + 50


def test_cosine_schedule_warms_up_then_decays():
    from countllm.finetune.lift_train import LiftTrainConfig, learning_rate

    cfg = LiftTrainConfig(lr=1e-3, schedule="cosine", warmup_epochs=2, max_epochs=10, min_lr_fraction=0.1)
    lrs = [learning_rate(cfg, e) for e in (0.0, 1.0, 2.0, 6.0, 10.0)]
    assert lrs[0] < lrs[1] < lrs[2] and abs(lrs[2] - 1e-3) < 1e-6 and lrs[3] < lrs[2]
    assert abs(lrs[4] - 1e-4) < 1e-9
    assert learning_rate(LiftTrainConfig(lr=3e-4), 5.0) == 3e-4


def test_turn_augmentation_keeps_samples_normalised():
    import numpy as np

    from countllm.finetune.lift_data import LiftDataConfig, _turn
    from countllm.recognize.motion_image import MotionImageConfig

    joints = np.random.default_rng(1).uniform(-0.5, 0.5, (30, 17, 3)).astype(np.float32)
    out = _turn(joints, np.random.default_rng(2), LiftDataConfig(rotate_deg=30, scale_jitter=0.2), MotionImageConfig())
    assert out.shape == joints.shape and out.dtype == np.float32
    assert np.allclose(out.min(axis=1), -0.5, atol=1e-5) and np.allclose(out.max(axis=1), 0.5, atol=1e-5)
