"""The GPU check (finetune/gpu_check.py): what it says without a GPU, how it judges, and (slow) a
self-test of every check on the CPU with a tiny LM; plus the training recipe's guard against
processes that accelerate runs each alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from countllm.finetune import gpu_check
from tests.test_llm_backends import build_tiny_chat_model

ROOT = Path(__file__).resolve().parents[1]


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, **env}, timeout=600)


def test_without_cuda_it_says_so_in_one_line():
    proc = _run(["-m", "countllm.finetune.gpu_check"], CUDA_VISIBLE_DEVICES="")
    assert proc.returncode == 2 and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gpu_check: no CUDA device visible") and "--checks ddp" in lines[0]


TRAINING_FACTS = {"losses_finite": True, "loss_first": 6.5, "loss_last": 5.9, "trained_tensors": 80,
                  "trained_changed": 80, "frozen_changed": [], "frozen_tensors": 21,
                  "validation": {"items": 4, "answer_parse_rate": 0.0}, "linear_dtypes": {"bfloat16": 23},
                  "layers_4bit": 14, "quant_types": ["nf4"], "compute_dtypes": ["bfloat16"], "on_device": True}
DDP_FACTS = {"processes": 2, "distributed_type": "MULTI_CPU", "expected_steps": 5,
             "ranks": [{"steps": 5, "first_losses": [1.1], "start_digest": "a", "end_digest": "b"},
                       {"steps": 5, "first_losses": [1.3], "start_digest": "a", "end_digest": "b"}]}


@pytest.mark.parametrize("name, change, failure", [
    ("bf16", {}, None),
    ("qlora", {}, None),
    ("bf16", {"loss_last": 7.0}, "the loss did not fall"),
    ("bf16", {"losses_finite": False}, "not finite"),
    ("bf16", {"frozen_changed": ["lm.x"]}, "frozen weights changed"),
    ("bf16", {"trained_changed": 3}, "only 3/80 trained tensors changed"),
    ("bf16", {"linear_dtypes": {"bfloat16": 20, "float32": 3}}, "did not all compute in bf16"),
    ("qlora", {"quant_types": ["fp4"]}, "not 4-bit NF4"),
    ("qlora", {"validation": {}}, "validation did not generate"),
    ("qlora", {"answers": {"asked": 10, "parsed": 8, "example": "7"}}, "parsed 8/10"),
])
def test_judge_training(name, change, failure):
    failures = gpu_check.judge(name, {**TRAINING_FACTS, **change})
    assert (failures == []) if failure is None else any(failure in f for f in failures)


@pytest.mark.parametrize("rank1, failure", [
    ({}, None),
    ({"end_digest": "c"}, "gradients not synchronised"),
    ({"first_losses": [1.1]}, "saw the same batches"),
    ({"steps": 4}, "steps per rank [5, 4]"),
    ({"start_digest": "z"}, "started from different weights"),
])
def test_judge_ddp(rank1, failure):
    facts = {**DDP_FACTS, "ranks": [DDP_FACTS["ranks"][0], {**DDP_FACTS["ranks"][1], **rank1}]}
    failures = gpu_check.judge("ddp", facts)
    assert (failures == []) if failure is None else any(failure in f for f in failures)


def test_a_child_that_died_is_a_failure_naming_its_log():
    error = "the child exited 1: boom (log: x)"
    assert gpu_check.judge("bf16", {"error": error}) == [error]


def test_processes_that_train_alone_are_refused(tmp_path):
    """WORLD_SIZE=2 in a process that accelerate runs alone (what `accelerate launch --multi_gpu`
    gives where no GPU is visible): the stage stops before training instead of running twice."""
    config = gpu_check.stage_config("ddp", None, 1, tmp_path)
    proc = _run(["-m", "countllm", "finetune", "--config", str(config)], WORLD_SIZE="2",
                CUDA_VISIBLE_DEVICES="")
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "2 processes were launched, but accelerate runs each one alone" in proc.stderr
    assert not (tmp_path / "ddp" / "final").exists()


@pytest.mark.slow
def test_every_check_passes_on_the_cpu_with_a_tiny_lm(tmp_path):
    """The whole check, run as the README shows but with --cpu: bf16 autocast and 4-bit NF4 on the
    CPU, and two gloo processes. (hidden 128: bitsandbytes' CPU 4-bit needs rows of >= 64.)"""
    lm = build_tiny_chat_model(tmp_path / "tiny", hidden_size=128)
    report = tmp_path / "report.json"
    proc = _run(["-m", "countllm.finetune.gpu_check", "--cpu", "--lm", str(lm), "--steps", "6", "--ddp-steps", "3",
                 "--work", str(tmp_path / "work"), "--json", str(report)])
    assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]
    result = json.loads(report.read_text())
    assert result["failures"] == {"bf16": [], "qlora": [], "ddp": []}
    ddp = result["results"]["ddp"]
    assert ddp["processes"] == 2 and ddp["backend"] == "gloo" and [r["steps"] for r in ddp["ranks"]] == [5, 5]
    assert result["results"]["qlora"]["layers_4bit"] == 4 * 2 + 3 * 2  # q k v o + gate up down, 2 layers
    stage = yaml.safe_load((tmp_path / "work" / "bf16.yaml").read_text())
    assert stage["precision"] == "bf16" and (tmp_path / "work" / "bf16" / "final" / "adapter").is_dir()
