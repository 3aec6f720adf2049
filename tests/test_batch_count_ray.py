"""`countllm batch --engine ray` against a local Ray instance started here.

Ray is an extra that scripts/setup.sh installs, so a missing `ray` fails these tests (the import
below) rather than skipping them. One instance (2 CPUs, no dashboard) serves the module: the
command joins it with `--ray-address`, and `run_batch` in this process reuses it; one more test
lets the command start (and stop) a local instance of its own, the default without an address.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import ray

from countllm.batch.engines import EngineConfig
from countllm.batch.runner import BatchOptions, run_batch
from countllm.errors import EXIT_PARTIAL
from countllm.synthetic import SyntheticConfig, make_sequence

REPO = Path(__file__).resolve().parents[1]
COUNTLLM = REPO / ".venv" / "bin" / "countllm"


@pytest.fixture(scope="module")
def ray_address():
    if ray.is_initialized():  # pragma: no cover - another module's instance
        ray.shutdown()
    context = ray.init(num_cpus=2, include_dashboard=False, configure_logging=True, logging_level="ERROR")
    yield context.address_info["gcs_address"]
    ray.shutdown()


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("ray_media")
    for i, reps in enumerate((4, 5, 6)):
        np.save(root / f"squats{reps}.npy",
                make_sequence(SyntheticConfig(exercise="squat", n_reps=reps, seed=40 + i)).pose.joints)
    np.save(root / "broken.npy", np.ones((3, 4)))
    return root


def records(path: Path) -> dict[str, dict]:
    found = [json.loads(line) for line in path.read_text().splitlines()]
    assert len({r["input"] for r in found}) == len(found)
    return {r["input"]: r for r in found}


def expected(media: Path, tmp_path: Path) -> dict[str, dict]:
    out = tmp_path / "serial.jsonl"
    run = subprocess.run([str(COUNTLLM), "batch", str(media), "--out", str(out)], capture_output=True, text=True,
                         timeout=240)
    assert run.returncode == EXIT_PARTIAL, run.stderr
    return records(out)


def test_the_command_runs_on_a_ray_cluster(ray_address: str, media: Path, tmp_path: Path) -> None:
    out = tmp_path / "ray.jsonl"
    run = subprocess.run([str(COUNTLLM), "batch", str(media), "--out", str(out), "--engine", "ray",
                          "--ray-address", ray_address], capture_output=True, text=True, timeout=240)
    assert run.returncode == EXIT_PARTIAL, run.stderr  # broken.npy failed, recorded, the rest done
    assert "on ray x2" in run.stdout and "Traceback" not in run.stderr
    assert records(out) == expected(media, tmp_path)
    assert records(out)[str(media / "broken.npy")]["status"] == "failed"
    again = subprocess.run([str(COUNTLLM), "batch", str(media), "--out", str(out), "--engine", "ray",
                            "--ray-address", ray_address], capture_output=True, text=True, timeout=240)
    assert again.returncode == EXIT_PARTIAL  # resumed: the failure recorded, nothing recounted
    assert "this run: nothing left to count" in again.stdout


def test_run_batch_reuses_the_ray_instance_of_its_process(ray_address: str, media: Path, tmp_path: Path) -> None:
    out = tmp_path / "ray_api.jsonl"
    summary = run_batch([media], BatchOptions(out=out, engine=EngineConfig("ray"), progress=False))
    assert ray.is_initialized()  # not shut down: the instance is the caller's
    assert (summary.engine, summary.workers, summary.counted, summary.failed) == ("ray", 2, 3, 1)
    assert records(out) == expected(media, tmp_path)


def test_without_an_address_the_command_starts_its_own_local_instance(media: Path, tmp_path: Path) -> None:
    out = tmp_path / "own.jsonl"
    good = [str(media / "squats4.npy"), str(media / "squats5.npy")]
    run = subprocess.run([str(COUNTLLM), "batch", *good, "--out", str(out), "--engine", "ray", "--workers", "2"],
                         capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stderr
    assert "on ray x2" in run.stdout and sorted(records(out)) == good


def test_an_unreachable_cluster_is_one_line_in_seconds(tmp_path: Path, media: Path) -> None:
    run = subprocess.run([str(COUNTLLM), "batch", str(media), "--out", str(tmp_path / "r.jsonl"), "--engine", "ray",
                          "--ray-address", "127.0.0.1:9"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and run.stderr.startswith("countllm batch: error: 127.0.0.1:9: cannot reach")
    assert len(run.stderr.strip().splitlines()) == 1
