"""The GPU check: bf16 training, QLoRA and several processes, each run for real, with figures.

    python -m countllm.finetune.gpu_check [--checks bf16 qlora ddp] [--steps 30] [--lm FOLDER [--random-weights]]
    bash scripts/gpu_check.sh prepare && bash scripts/gpu_check.sh ARGS   # a GPU machine without this project's deps

Each check runs the recipe's own code (`train.start_stage` → `run_phases` → `finish_stage`, what
`countllm finetune` runs) on a small stage written here: the shipped default's architecture, a
fresh periodicity transformer, projector and LoRA, synthetic clips, the count task. Each check
runs in its own child process, since accelerate's state is per process and so is peak memory:

* bf16:  on CUDA, accelerate's bf16 mixed precision. Weights stay fp32 and every linear layer of
         the LM must compute in bfloat16 (hooks read one step).
* qlora: on CUDA, the LM loaded in 4-bit NF4 through bitsandbytes (double quantisation, bf16
         compute), LoRA on top. The 4-bit layers are counted and must end bit-identical.
* ddp:   two processes under `accelerate launch` on the CPU (gloo). Both must take every step,
         on different batches, and end with identical trained weights. One GPU cannot hold two
         NCCL ranks, so this proves accelerate's data parallelism, not NCCL's.

bf16 and qlora pass when: every loss is finite; the mean loss of the last 3 steps is below that
of the first 3; the trained parts changed; everything frozen is bit-identical; and generation
ran on the device for the validation clips. With the default LM (no --lm), they first ask the
shipped trained default to count 10 synthetic clips on the device, with the check's LM
settings. At least 9 answers must parse. `--random-weights` builds --lm's architecture with
seeded random weights, for a machine that cannot hold the real ones: steps/s and memory still
hold for the architecture, but the answers are noise.

Exit status: 0 every check passed; 1 a check failed; 2 it cannot run here (no CUDA device for
bf16/qlora, no bitsandbytes for qlora), with the reason on one stderr line.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import importlib.util
import json
import math
import os
import resource
import shutil
import socket
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from countllm.errors import ModelUnavailable

MARKER = "GPU_CHECK_RESULT "  # the line a child prints its facts on
ANSWER_CLIPS, MIN_PARSED = 10, 9
DDP_PROCESSES = 2
PACKAGES = ("torch", "transformers", "peft", "accelerate", "bitsandbytes")


@dataclass(frozen=True)
class Check:
    precision: str  # accelerate's mixed_precision
    dtype: str  # the LM's BackboneConfig.dtype (for 4-bit: the compute dtype)
    quantization: str
    needs_cuda: bool
    what: str


CHECKS = {
    "bf16": Check("bf16", "float32", "none", True, "bf16 mixed-precision training on CUDA"),
    "qlora": Check("bf16", "bfloat16", "4bit", True, "4-bit NF4 LM + LoRA training and generation on CUDA"),
    "ddp": Check("no", "float32", "none", False, f"{DDP_PROCESSES} processes, accelerate + gloo on the CPU"),
}
TRAINED = ("periodicity.", "projector.")  # parameter name prefixes trained by the check's stage, + LoRA


# --------------------------------------------------------------------------- the stage
def stage_config(name: str, lm: str | None, steps: int, work: Path) -> Path:
    """Write the check's stage YAML; return its path."""
    from countllm.videollm.checkpoint import read_config  # noqa: PLC0415
    from countllm.videollm.counter import default_checkpoint  # noqa: PLC0415

    check = CHECKS[name]
    model = read_config(default_checkpoint()).to_dict()
    model["backbone"] = {**model["backbone"], "path": lm, "dtype": check.dtype, "quantization": check.quantization}
    loss = {"lm": 1.0, "count": 0.5, "density": 0.5}
    phases = [{"name": "train", "steps": steps, "batch_size": 4, "loss": loss, "lr": 1e-3, "lora_lr": 1e-3,
               "warmup_steps": 2}]
    if name == "ddp":  # the LM skipped (unused parameters under DDP), then a phase through the LM
        phases = [{"name": "density", "steps": steps, "batch_size": 8, "train": ["periodicity"], "lr": 1e-3,
                   "loss": {"lm": 0.0, "count": 1.0, "density": 1.0}, "warmup_steps": 1},
                  {"name": "joint", "steps": 2, "batch_size": 2, "train": ["projector", "lora"], "lr": 1e-3,
                   "loss": {"lm": 1.0}, "warmup_steps": 1}]
    stage = {"stage": f"gpu-check-{name}", "output_dir": str(work / name), "model": model,
             "precision": check.precision, "data": {"synthetic_clips": 16}, "tasks": {"count": 1.0},
             "phases": phases, "validation": {"synthetic_clips": 4, "max_items": 4, "batch_size": 4},
             "checkpoint_every": 10**6, "log_every": 1}
    path = work / f"{name}.yaml"
    path.write_text(yaml.safe_dump(stage, sort_keys=False))
    return path


def random_weights_lm(source: Path, target: Path, seed: int = 0) -> Path:
    """`source`'s architecture and tokenizer with seeded random weights, saved as an HF folder."""
    import torch  # noqa: PLC0415
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer  # noqa: PLC0415

    from countllm.default_lm import quiet_model_loading  # noqa: PLC0415

    quiet_model_loading()
    shutil.rmtree(target, ignore_errors=True)
    config = AutoConfig.from_pretrained(source, local_files_only=True)
    torch.manual_seed(seed)
    AutoModelForCausalLM.from_config(config).save_pretrained(target)
    AutoTokenizer.from_pretrained(source, local_files_only=True).save_pretrained(target)
    return target


# --------------------------------------------------------------------------- measuring a run
class Probe:
    """Hooks on the video-LLM: when each training step starts, its loss, and (first step only)
    the output dtypes of the LM's linear layers."""

    def __init__(self, model: Any, linear_dtypes: bool = True) -> None:
        self.model, self.want_dtypes = model, linear_dtypes
        self.starts: list[float] = []
        self.losses: list[float] = []
        self.dtypes: Counter[str] = Counter()
        self._linear_hooks: list[Any] = []
        model.register_forward_pre_hook(self._before_step)
        model.register_forward_hook(self._after_step)

    def _before_step(self, module: Any, args: Any) -> None:
        self.starts.append(time.perf_counter())
        if len(self.starts) == 1 and self.want_dtypes:
            from torch import nn  # noqa: PLC0415

            self._linear_hooks = [m.register_forward_hook(self._linear_out) for m in self.model.lm.modules()
                                  if isinstance(m, nn.Linear)]
        for hook in self._linear_hooks if len(self.starts) == 2 else []:
            hook.remove()

    def _linear_out(self, module: Any, args: Any, output: Any) -> None:
        self.dtypes[str(output.dtype).removeprefix("torch.")] += 1

    def _after_step(self, module: Any, args: Any, output: Any) -> None:
        self.losses.append(float(output.loss.detach()))

    def steps_per_s(self) -> float | None:
        """Steps 3 … n-1 (the first two warm up and carry the dtype hooks)."""
        if len(self.starts) < 4:
            return None
        return (len(self.starts) - 3) / (self.starts[-1] - self.starts[2])


def _is_trained(name: str) -> bool:
    return name.startswith(TRAINED) or "lora_" in name


def _changes(model: Any, before: dict[str, Any]) -> dict[str, Any]:
    import torch  # noqa: PLC0415

    trained, changed, frozen_changed = 0, 0, []
    for name, p in model.named_parameters():
        same = torch.equal(p.detach(), before[name])
        if _is_trained(name):
            trained, changed = trained + 1, changed + (not same)
        elif not same:
            frozen_changed.append(name)
    return {"trained_tensors": trained, "trained_changed": changed, "frozen_changed": frozen_changed[:5],
            "frozen_tensors": len(before) - trained}


def _digest(model: Any) -> str:
    h = hashlib.sha256()
    for name, p in sorted(model.named_parameters()):
        if _is_trained(name):
            h.update(p.detach().float().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def _quantized_layers(model: Any, device: str) -> dict[str, Any]:
    """The LM's bitsandbytes 4-bit layers: how many, their quant type, compute dtype and device."""
    if importlib.util.find_spec("bitsandbytes") is None:
        return {"layers_4bit": 0}
    import bitsandbytes as bnb  # noqa: PLC0415

    layers = [m for m in model.lm.modules() if isinstance(m, bnb.nn.Linear4bit)]
    if not layers:
        return {"layers_4bit": 0}
    return {"layers_4bit": len(layers), "quant_types": sorted({m.weight.quant_type for m in layers}),
            "compute_dtypes": sorted({str(m.compute_dtype).removeprefix("torch.") for m in layers}),
            "on_device": all(m.weight.device.type == device for m in layers),
            "lm_footprint_mb": round(model.lm.get_memory_footprint() / 2**20, 1)}


def _peak_memory_mb(device: str) -> float:
    import torch  # noqa: PLC0415

    if device == "cuda":
        return round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # peak RSS, CPU self-test


def _reset_peak(device: str) -> None:
    import gc  # noqa: PLC0415

    import torch  # noqa: PLC0415

    gc.collect()
    if device == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def _last_validation(out: Path) -> dict[str, Any]:
    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    return next((r["validation"] for r in reversed(records) if "validation" in r), {})


# --------------------------------------------------------------------------- the children
def ask_default(name: str, device: str) -> dict[str, Any]:
    """The shipped trained default counts synthetic clips on `device`, with the check's LM settings."""
    from countllm.finetune.data import DataConfig, synthetic_clips  # noqa: PLC0415
    from countllm.videollm.checkpoint import load_checkpoint  # noqa: PLC0415
    from countllm.videollm.counter import default_checkpoint  # noqa: PLC0415
    from countllm.videollm.inputs import Sample, collate  # noqa: PLC0415

    check = CHECKS[name]
    model = load_checkpoint(default_checkpoint(), device=device,
                            backbone={"dtype": check.dtype, "quantization": check.quantization})
    clips = synthetic_clips(DataConfig(synthetic_clips=ANSWER_CLIPS, synthetic_seed=4242), model.cfg.encoder)
    question = model.prompts.question("count")
    batch = collate([Sample(c.features, "count", question) for c in clips], model.prompts)  # on the CPU
    started = time.perf_counter()
    texts, _ = model.generate(batch)
    counts = [_count_or_none(t) for t in texts]
    parsed = [(c.count, n) for c, n in zip(clips, counts) if n is not None]
    return {"asked": len(clips), "parsed": len(parsed), "within_one": sum(abs(g - n) <= 1 for g, n in parsed),
            "seconds": round(time.perf_counter() - started, 2), "example": texts[0][:60]}


def child_train(name: str, lm: str | None, steps: int, work: Path) -> dict[str, Any]:
    import torch  # noqa: PLC0415

    from countllm.finetune.train import finish_stage, run_phases, start_stage  # noqa: PLC0415

    device = "cuda" if torch.cuda.is_available() else "cpu"
    facts: dict[str, Any] = {"check": name, "device": torch.cuda.get_device_name() if device == "cuda" else "cpu"}
    if lm is None:
        facts["answers"] = ask_default(name, device)
        facts["answers"]["peak_memory_mb"] = _peak_memory_mb(device)
    _reset_peak(device)
    ctx = start_stage(stage_config(name, lm, steps, work), resume=False)
    model = ctx["model"]
    facts.update(_quantized_layers(model, device))
    probe, before = Probe(model), {n: p.detach().clone() for n, p in model.named_parameters()}
    run_phases(ctx)
    finish_stage(ctx)
    losses = probe.losses
    facts.update(_changes(model, before), steps=len(losses), steps_per_s=probe.steps_per_s(),
                 peak_memory_mb=_peak_memory_mb(device), linear_dtypes=dict(probe.dtypes),
                 losses_finite=all(map(math.isfinite, losses)), loss_first=_mean(losses[:3]),
                 loss_last=_mean(losses[-3:]),
                 validation=_last_validation(ctx["out"]))
    return facts


def child_ddp(lm: str | None, steps: int, work: Path) -> dict[str, Any] | None:
    """One rank of the ddp check; the main rank returns every rank's facts."""
    import torch  # noqa: PLC0415
    import torch.distributed as dist  # noqa: PLC0415
    from accelerate.utils import gather_object  # noqa: PLC0415

    from countllm.finetune.train import finish_stage, run_phases, start_stage  # noqa: PLC0415

    ctx = start_stage(stage_config("ddp", lm, steps, work), resume=False)
    accelerator, model = ctx["accelerator"], ctx["model"]
    probe, start = Probe(model, linear_dtypes=False), _digest(model)
    run_phases(ctx)
    row = {"rank": accelerator.process_index, "steps": len(probe.losses), "first_losses": probe.losses[:3],
           "start_digest": start, "end_digest": _digest(model), "threads": torch.get_num_threads()}
    rows = gather_object([row])
    finish_stage(ctx)
    if not accelerator.is_main_process:
        return None
    return {"check": "ddp", "device": "cpu", "processes": accelerator.num_processes, "ranks": rows,
            "distributed_type": str(accelerator.distributed_type).removeprefix("DistributedType."),
            "backend": dist.get_backend() if dist.is_initialized() else None, "expected_steps": steps + 2}


def _count_or_none(text: str) -> int | None:
    from countllm.videollm.answer_format import UnparseableAnswer, parse_answer  # noqa: PLC0415

    try:
        return parse_answer(text).count
    except UnparseableAnswer:
        return None


def _mean(xs: list[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


# --------------------------------------------------------------------------- judging
def judge(name: str, facts: dict[str, Any]) -> list[str]:
    """What failed, one phrase each; empty when the check passed."""
    if "error" in facts:
        return [facts["error"]]
    return judge_ddp(facts) if name == "ddp" else judge_training(name, facts)


def judge_training(name: str, f: dict[str, Any]) -> list[str]:
    failures = []
    if not f["losses_finite"]:
        failures.append("a loss was not finite")
    elif not f["loss_last"] < f["loss_first"]:
        failures.append(f"the loss did not fall ({f['loss_first']:.3f} → {f['loss_last']:.3f})")
    if f["trained_changed"] < f["trained_tensors"]:
        failures.append(f"only {f['trained_changed']}/{f['trained_tensors']} trained tensors changed")
    if f["frozen_changed"]:
        failures.append(f"frozen weights changed: {', '.join(f['frozen_changed'])}")
    if not f["validation"].get("items") or "answer_parse_rate" not in f["validation"]:
        failures.append("validation did not generate")
    answers = f.get("answers")
    if answers and answers["parsed"] < MIN_PARSED:
        failures.append(f"the trained default's answers parsed {answers['parsed']}/{answers['asked']} "
                        f"(needs {MIN_PARSED}), e.g. {answers['example']!r}")
    if name == "bf16" and set(f["linear_dtypes"]) != {"bfloat16"}:
        failures.append(f"linear layers did not all compute in bf16: {f['linear_dtypes']}")
    if name == "qlora" and not (f["layers_4bit"] and f["quant_types"] == ["nf4"] and f["on_device"]
                                and f["compute_dtypes"] == ["bfloat16"]):
        failures.append(f"the LM is not 4-bit NF4 on the device with bf16 compute: {_quant_summary(f)}")
    return failures


def judge_ddp(f: dict[str, Any]) -> list[str]:
    ranks, failures = f["ranks"], []
    if f["processes"] != DDP_PROCESSES or len(ranks) != DDP_PROCESSES:
        failures.append(f"{f['processes']} processes joined ({f['distributed_type']}), not {DDP_PROCESSES}")
    if any(r["steps"] != f["expected_steps"] for r in ranks):
        failures.append(f"steps per rank {[r['steps'] for r in ranks]}, expected {f['expected_steps']} each")
    if len({r["start_digest"] for r in ranks}) != 1:
        failures.append("the ranks started from different weights")
    if len({r["end_digest"] for r in ranks}) != 1:
        failures.append("the ranks' trained weights differ after training (gradients not synchronised)")
    if any(r["end_digest"] == r["start_digest"] for r in ranks):
        failures.append("the trained weights did not change")
    if len({tuple(r["first_losses"]) for r in ranks}) != len(ranks):
        failures.append("the ranks saw the same batches (identical losses), so equal weights prove nothing")
    return failures


def _quant_summary(f: dict[str, Any]) -> str:
    return (f"{f['layers_4bit']} layers, {'/'.join(f.get('quant_types', []))}, compute "
            f"{'/'.join(f.get('compute_dtypes', []))}, LM {f.get('lm_footprint_mb')} MB")


# --------------------------------------------------------------------------- running
def _child_args(args: argparse.Namespace, name: str, lm: str | None) -> list[str]:
    steps = args.ddp_steps if name == "ddp" else args.steps
    return ["-m", "countllm.finetune.gpu_check", "--child", name, "--steps", str(steps), "--work", str(args.work),
            *(["--lm", lm] if lm else [])]


def _run_child(name: str, cmd: list[str], env: dict[str, str], work: Path) -> dict[str, Any]:
    """Run one check's child; its output goes to WORK/NAME.log, its facts come back as a dict."""
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    (work / f"{name}.log").write_text(proc.stdout + proc.stderr)
    lines = [line[len(MARKER):] for line in proc.stdout.splitlines() if line.startswith(MARKER)]
    if proc.returncode != 0 or not lines:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"the child exited {proc.returncode}: {last[:240]} (log: {work / f'{name}.log'})"}
    return {**json.loads(lines[-1]), "wall_s": round(time.perf_counter() - started, 1)}


def run_check(name: str, args: argparse.Namespace, lm: str | None) -> dict[str, Any]:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    if args.cpu:
        env["CUDA_VISIBLE_DEVICES"] = ""
    cmd = [sys.executable, *_child_args(args, name, lm)]
    if name == "ddp":
        # accelerate's torchrun launcher; ACCELERATE_USE_CPU makes each process join a gloo group
        # on the CPU (`accelerate launch --cpu` starts one process only, and --multi_gpu without
        # it, where no GPU is visible, starts processes that each train alone).
        threads = max(1, (os.cpu_count() or 2) // DDP_PROCESSES)
        env.update(ACCELERATE_USE_CPU="true", CUDA_VISIBLE_DEVICES="", OMP_NUM_THREADS=str(threads))
        cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes",
               str(DDP_PROCESSES), "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
               "--main_process_port", str(_free_port()), *_child_args(args, name, lm)]
    return _run_child(name, cmd, env, args.work)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def preflight(checks: list[str], cpu: bool) -> str | None:
    """Why the checks cannot run here (one line), or None."""
    import torch  # noqa: PLC0415

    need = [c for c in checks if CHECKS[c].needs_cuda]
    if need and not cpu and not torch.cuda.is_available():
        return (f"no CUDA device visible to torch {torch.__version__}; the {'/'.join(need)} checks need one: "
                "run this on a GPU machine, or pass --checks ddp (or --cpu to self-test on the CPU)")
    if "qlora" in checks and importlib.util.find_spec("bitsandbytes") is None:
        return "the qlora check needs bitsandbytes: pip install bitsandbytes (scripts/gpu_check.sh carries it)"
    return None


def _versions() -> str:
    found = []
    for name in PACKAGES:
        try:
            found.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            found.append(f"{name} missing")
    return ", ".join(found)


def format_report(results: dict[str, dict[str, Any]], lm_label: str) -> str:
    devices = sorted({r.get("device", "?") for r in results.values()})
    lines = [f"gpu check on {', '.join(devices)}: {_versions()}", f"LM: {lm_label}",
             f"{'check':6s} {'verdict':7s} {'steps/s':>8s} {'peak mem':>10s} {'loss first→last':>16s} "
             f"{'answers':>8s}  notes"]
    for name, r in results.items():
        failures = judge(name, r)
        verdict = "FAIL" if failures else "pass"
        if "error" in r:
            lines.append(f"{name:6s} {verdict:7s} {r['error']}")
            continue
        speed = f"{r['steps_per_s']:.2f}" if r.get("steps_per_s") else "-"
        memory = f"{r['peak_memory_mb'] / 1024:.2f} GiB" if "peak_memory_mb" in r else "-"
        loss = f"{r['loss_first']:.2f}→{r['loss_last']:.2f}" if r.get("loss_first") is not None else "-"
        answers = f"{r['answers']['parsed']}/{r['answers']['asked']}" if "answers" in r else "-"
        lines.append(f"{name:6s} {verdict:7s} {speed:>8s} {memory:>10s} {loss:>16s} {answers:>8s}  {_notes(name, r)}")
        lines += [f"       ✗ {failure}" for failure in failures]
    return "\n".join(lines)


def _notes(name: str, r: dict[str, Any]) -> str:
    if name == "ddp":
        ranks = r["ranks"]
        same = len({x["end_digest"] for x in ranks}) == 1
        first = [round(x["first_losses"][0], 3) if x["first_losses"] else None for x in ranks]
        return (f"{r['processes']} processes ({r['distributed_type']}, {r['backend']}): steps "
                f"{[x['steps'] for x in ranks]}, first losses {first}, trained weights "
                f"{'identical' if same else 'DIFFER'} ({ranks[0]['end_digest']})")
    val = r["validation"]
    note = (f"{r['steps']} steps; trained {r['trained_changed']}/{r['trained_tensors']} changed, frozen "
            f"{r['frozen_tensors'] - len(r['frozen_changed'])}/{r['frozen_tensors']} same; validation parsed "
            f"{val.get('answer_parse_rate', 0):.0%} of {val.get('items', 0)}")
    if name == "bf16":
        note += f"; LM linear outputs {r['linear_dtypes']}"
    if name == "qlora":
        note += f"; {_quant_summary(r)}"
    if "answers" in r:
        a = r["answers"]
        note += f"; default answered {a['parsed']}/{a['asked']} parsed, {a['within_one']} within one, {a['seconds']} s"
    return note


# --------------------------------------------------------------------------- the command
def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m countllm.finetune.gpu_check", description=__doc__.splitlines()[0])
    parser.add_argument("--checks", nargs="+", default=list(CHECKS), choices=list(CHECKS),
                        help="which checks (default: all): " + "; ".join(f"{k}: {c.what}" for k, c in CHECKS.items()))
    parser.add_argument("--steps", type=int, default=30, help="training steps of bf16 and qlora (>= 6)")
    parser.add_argument("--ddp-steps", type=int, default=6, help="density steps of ddp (then 2 through the LM)")
    parser.add_argument("--lm", help="a local Hugging Face causal-LM folder (default: the default SmolLM2)")
    parser.add_argument("--random-weights", action="store_true",
                        help="use --lm's architecture (config.json + tokenizer) with seeded random weights")
    parser.add_argument("--work", type=Path, default=Path("runs/gpu_check"), help="stages, logs and checkpoints")
    parser.add_argument("--json", type=Path, help="also write every figure and verdict to this file")
    parser.add_argument("--cpu", action="store_true", help="run bf16/qlora on the CPU: a self-test of this script")
    parser.add_argument("--child", choices=list(CHECKS), help=argparse.SUPPRESS)
    return parser


def _child_main(args: argparse.Namespace) -> int:
    if args.child == "ddp":
        facts = child_ddp(args.lm, args.steps, args.work)
    else:
        facts = child_train(args.child, args.lm, args.steps, args.work)
    if facts is not None:
        print(MARKER + json.dumps(facts), flush=True)
    return 0


def _resolve_lm(args: argparse.Namespace) -> tuple[str | None, str]:
    """The LM folder the children load (None: the default, converted here once so that no two
    children convert it), and how the report names it. Raises BackboneUnavailable."""
    from countllm.videollm.backbone import BackboneConfig, resolve_path  # noqa: PLC0415

    source = resolve_path(BackboneConfig(path=args.lm))
    if not args.random_weights:
        return args.lm, f"{args.lm} (its own weights)" if args.lm else f"the default, {source.name} (real weights)"
    return str(random_weights_lm(source, args.work / "random-lm")), f"random weights in the architecture of {source}"


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.child:
        return _child_main(args)
    if args.steps < 6 and {"bf16", "qlora"} & set(args.checks):
        _parser().error("--steps must be at least 6 (3 steps open and 3 close the loss comparison)")
    reason = preflight(args.checks, args.cpu)
    if reason:
        print(f"gpu_check: {reason}", file=sys.stderr)
        return 2
    args.work.mkdir(parents=True, exist_ok=True)
    try:
        lm, label = _resolve_lm(args)
    except ModelUnavailable as exc:
        print(f"gpu_check: {exc}", file=sys.stderr)
        return 2
    results = {name: run_check(name, args, lm) for name in args.checks}
    print(format_report(results, label))
    verdicts = {name: judge(name, r) for name, r in results.items()}
    if args.json:
        args.json.write_text(json.dumps({"lm": label, "versions": _versions(), "results": results,
                                         "failures": verdicts}, indent=2))
    return 1 if any(verdicts.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
