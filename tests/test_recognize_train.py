"""The recognizer recipe through its real entry point: a tiny model, a few steps, what lands on disk."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from countllm.recognize import load_recognizer

REPO = Path(__file__).resolve().parents[1]


def tiny_recipe(tmp_path: Path) -> Path:
    recipe = yaml.safe_load((REPO / "finetune/recipes/lift/default.yaml").read_text())
    recipe.update(output_dir=str(tmp_path / "run"), lr=2e-3, max_epochs=3, max_batches_per_epoch=3, batch_size=8,
                  dev_synthetic_clips=6)
    recipe["arch"].update(hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64)
    recipe["data"].update(synthetic_clips=12, real_annotations=None, synthetic_exercises=["squat", "jumping_jack",
                                                                                          "bicep_curl"])
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "countllm.finetune.lift_train", *args], capture_output=True,
                          text=True, timeout=600, env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})


def test_training_smoke_run_resume_and_checkpoint(tmp_path):
    recipe = tiny_recipe(tmp_path)
    first = run("--config", str(recipe), "max_epochs=2")
    assert first.returncode == 0, first.stderr[-2000:]
    final = tmp_path / "run" / "final"
    assert {p.name for p in final.iterdir()} == {"config.json", "model.safetensors", "training.json"}
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
