"""The training recipe: one stage of progressive multimodal LoRA training, from a YAML config.

    countllm finetune --config finetune/recipes/default/stage2_periodicity.yaml [key=value ...]
    accelerate launch --config_file finetune/accelerate/multi_gpu.yaml -m countllm.finetune.train --config ...

A stage starts from the previous stage's checkpoint (`init_from`) or a fresh model (`model:`),
runs its phases (each a loss mix, a set of trainable parts, a learning rate), validates on
held-out clips, and saves adapter + projector + periodicity transformer + the exact template
and stage config. It is resumable: `<output_dir>/last/` holds the latest checkpoint with the
optimizer, scheduler, RNG states and step; rerunning the same command continues from there.
Distribution, mixed precision and gradient accumulation are accelerate's; nothing here is a
home-made distributed system.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from tqdm import tqdm

from countllm.errors import EXIT_USAGE, CountLLMError, InputError
from countllm.finetune.config import PhaseConfig, StageConfig, load_stage_config
from countllm.finetune.data import Clip, make_sample, real_clips, synthetic_clips
from countllm.finetune.validate import validate
from countllm.videollm.backbone import load_backbone
from countllm.videollm.checkpoint import load_checkpoint, load_trained_parts, save_checkpoint
from countllm.videollm.inputs import collate
from countllm.videollm.model import VideoLLM, VideoLLMConfig
from countllm.videollm.prompting import PromptConfig

STATE_FILE = "trainer_state.pt"


# --------------------------------------------------------------------------- model and data
def build_model(cfg: StageConfig) -> VideoLLM:
    if cfg.init_from is not None:
        model = load_checkpoint(cfg.init_from, trainable=True)
    else:
        model_cfg = VideoLLMConfig.from_dict(cfg.model)
        model = VideoLLM(model_cfg, load_backbone(model_cfg.backbone, trainable=True))
    if cfg.prompt:
        model.set_prompt(PromptConfig(**{**asdict(model.cfg.prompt), **cfg.prompt}))
    return model


def set_trainable(model: VideoLLM, parts: tuple[str, ...]) -> list[dict[str, Any]]:
    """Freeze everything but `parts`; return their parameters grouped by part."""
    groups = {"periodicity": list(model.periodicity.parameters()), "projector": list(model.projector.parameters()),
              "lora": [p for n, p in model.lm.named_parameters() if "lora_" in n]}
    for p in model.parameters():
        p.requires_grad_(False)
    chosen = []
    for part in parts:
        for p in groups[part]:
            p.requires_grad_(True)
        chosen.append({"part": part, "params": groups[part]})
    return chosen


def make_optimizer(model: VideoLLM, phase: PhaseConfig) -> tuple[torch.optim.Optimizer, Any]:
    from transformers import get_cosine_schedule_with_warmup  # noqa: PLC0415

    groups = [{"params": g["params"], "lr": phase.lora_lr if g["part"] == "lora" else phase.lr}
              for g in set_trainable(model, phase.train)]
    optimizer = torch.optim.AdamW(groups, weight_decay=phase.weight_decay)
    schedule = get_cosine_schedule_with_warmup(optimizer, min(phase.warmup_steps, phase.steps), max(phase.steps, 1))
    return optimizer, schedule


def load_clips(cfg: StageConfig, model: VideoLLM) -> tuple[dict[str, list[Clip]], list[Clip]]:
    """Training clips by pool (synthetic, real), and held-out validation clips (real val split,
    else fresh synthetic)."""
    encoder = model.cfg.encoder
    train = {"synthetic": synthetic_clips(cfg.data, encoder), "real": real_clips(cfg.data, encoder)}
    if not any(train.values()):
        raise ValueError(f"stage {cfg.stage!r}: no training clips (synthetic_clips is 0 and no real data)")
    val = real_clips(cfg.data, encoder, split=cfg.validation.split) if cfg.data.real_annotations else []
    if not val:
        held_out = replace(cfg.data, synthetic_clips=cfg.validation.synthetic_clips,
                           synthetic_seed=cfg.data.synthetic_seed + 7919)
        val = synthetic_clips(held_out, encoder)
    return train, val[: cfg.validation.max_items]


class BatchSampler:
    """Random clip + task (by weight) per item; a clip that cannot answer a task is redrawn.

    With `real_fraction`, an item comes from the real pool with that probability (when both
    pools have clips); otherwise every clip is equally likely.
    """

    def __init__(self, pools: dict[str, list[Clip]], tasks: dict[str, float], model: VideoLLM, seed: int,
                 real_fraction: float | None = None) -> None:
        self.pools = {k: v for k, v in pools.items() if v}
        self.all = [c for v in self.pools.values() for c in v]
        self.real_fraction = real_fraction if len(self.pools) == 2 else None
        self.model, self.rng = model, random.Random(seed)
        self.tasks, self.weights = list(tasks), list(tasks.values())

    def clip(self) -> Clip:
        if self.real_fraction is None:
            return self.rng.choice(self.all)
        pool = "real" if self.rng.random() < self.real_fraction else "synthetic"
        return self.rng.choice(self.pools[pool])

    def batch(self, size: int) -> Any:
        samples = []
        while len(samples) < size:
            task = self.rng.choices(self.tasks, self.weights)[0]
            sample = make_sample(self.clip(), task, self.model.prompts, self.rng)
            if sample is not None:
                samples.append(sample)
        return collate(samples, self.model.prompts)


# --------------------------------------------------------------------------- resume
def save_state(folder: Path, model: VideoLLM, optimizer: Any, schedule: Any, step: int,
               sampler: BatchSampler, history: list[dict[str, Any]], raw_config: dict[str, Any]) -> None:
    """Write a complete resumable checkpoint to a temp folder, then swap it in (crash-safe)."""
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    save_checkpoint(model, tmp, history)
    (tmp / "stage.yaml").write_text(yaml.safe_dump(raw_config, sort_keys=False))
    torch.save({"step": step, "optimizer": optimizer.state_dict(), "schedule": schedule.state_dict(),
                "sampler": sampler.rng.getstate(), "torch_rng": torch.get_rng_state()}, tmp / STATE_FILE)
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)


def restore_state(folder: Path, model: VideoLLM) -> dict[str, Any]:
    """Load trained parts from `folder` into `model`; return the trainer state."""
    load_trained_parts(model, folder, adapter=True)
    return torch.load(folder / STATE_FILE, weights_only=False)


# --------------------------------------------------------------------------- the loop
def run_phase(ctx: dict[str, Any], phase: PhaseConfig, first_step: int, phase_start: int) -> None:
    """Steps [first_step, phase_start + phase.steps) of the stage, with this phase's loss mix."""
    cfg, model, accelerator = ctx["cfg"], ctx["model"], ctx["accelerator"]
    optimizer, schedule = make_optimizer(model, phase)
    if ctx.get("state") and ctx["state"]["step"] > phase_start:  # resuming inside this phase
        optimizer.load_state_dict(ctx["state"]["optimizer"])
        schedule.load_state_dict(ctx["state"]["schedule"])
    optimizer, schedule = accelerator.prepare(optimizer, schedule)
    model.train()
    bar = tqdm(range(first_step, phase_start + phase.steps), desc=f"{cfg.stage}/{phase.name}", unit="step",
               initial=first_step - phase_start, total=phase.steps, disable=not accelerator.is_main_process)
    for step in bar:
        with accelerator.accumulate(ctx["wrapped"]):
            batch = ctx["sampler"].batch(phase.batch_size).to(accelerator.device)
            out = ctx["wrapped"](batch, phase.loss)
            accelerator.backward(out.loss)
            if phase.max_grad_norm > 0 and accelerator.sync_gradients:
                accelerator.clip_grad_norm_(ctx["wrapped"].parameters(), phase.max_grad_norm)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
        done = step + 1
        bar.set_postfix(loss=f"{out.loss.item():.3f}")
        if done % cfg.log_every == 0 or done == phase_start + phase.steps:
            log(ctx, {"step": done, "phase": phase.name, "loss": out.loss.item(), **out.parts,
                      "lr": schedule.get_last_lr()[0]})
        if cfg.validation.every and done % cfg.validation.every == 0 and done < phase_start + phase.steps:
            log(ctx, {"step": done, "phase": phase.name, "validation": run_validation(ctx, phase)})
        if done % cfg.checkpoint_every == 0 and accelerator.is_main_process:
            save_state(ctx["out"] / "last", model, optimizer, schedule, done, ctx["sampler"], ctx["history"],
                       ctx["raw"])
    log(ctx, {"step": phase_start + phase.steps, "phase": phase.name, "validation": run_validation(ctx, phase)})
    if accelerator.is_main_process:
        save_state(ctx["out"] / "last", model, optimizer, schedule, phase_start + phase.steps, ctx["sampler"],
                   ctx["history"], ctx["raw"])


def run_validation(ctx: dict[str, Any], phase: PhaseConfig) -> dict[str, Any]:
    return validate(ctx["model"], ctx["val"], ctx["cfg"].validation.batch_size, generate=phase.loss.lm > 0)


def log(ctx: dict[str, Any], record: dict[str, Any]) -> None:
    if not ctx["accelerator"].is_main_process:
        return
    record = {**record, "elapsed_s": round(time.perf_counter() - ctx["started"], 1)}
    with open(ctx["out"] / "log.jsonl", "a") as f:
        f.write(json.dumps(record) + "\n")
    if "validation" in record:
        v = record["validation"]
        tqdm.write(f"[{ctx['cfg'].stage}] step {record['step']} validation: " + json.dumps(
            {k: v[k] for k in ("density", "answer", "answer_parse_rate") if k in v}))


def setup(config: str | Path, overrides: list[str] | tuple[str, ...] = (), resume: bool = True) -> Path:
    """Run one training stage from its YAML `config`; return the final checkpoint folder.

    Args:
        config: the stage's YAML file (see finetune/recipes/).
        overrides: dotted `key=value` assignments applied on top of the YAML.
        resume: continue from `<output_dir>/last/` when it exists (False: start over).
    """
    ctx = start_stage(config, overrides, resume)
    run_phases(ctx)
    return finish_stage(ctx)


def start_stage(config: str | Path, overrides: list[str] | tuple[str, ...] = (), resume: bool = True) -> dict[str, Any]:
    """Everything `setup` does before the first step: the accelerator, the model (prepared), the
    clips, the resumed state. Returns the context that `run_phases` and `finish_stage` take."""
    from accelerate import Accelerator  # noqa: PLC0415
    from accelerate.utils import DistributedDataParallelKwargs  # noqa: PLC0415

    cfg, raw = load_stage_config(config, list(overrides))
    accelerator = Accelerator(mixed_precision=cfg.precision, gradient_accumulation_steps=cfg.gradient_accumulation,
                              kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)])
    _check_distributed(accelerator)
    seed = cfg.seed + accelerator.process_index  # each process draws different batches
    random.seed(seed), np.random.seed(seed), torch.manual_seed(seed)
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = build_model(cfg)
    train, val = load_clips(cfg, model)
    history = _history(cfg)
    ctx: dict[str, Any] = {"cfg": cfg, "raw": raw, "model": model, "accelerator": accelerator, "out": out,
                           "val": val, "history": history, "started": time.perf_counter(),
                           "sampler": BatchSampler(train, cfg.tasks, model, seed, cfg.data.real_fraction)}
    ctx["state"] = _resume(out, model, ctx["sampler"]) if resume else None
    if not resume and accelerator.is_main_process:
        (out / "log.jsonl").unlink(missing_ok=True)
    ctx["wrapped"] = accelerator.prepare(model)
    log(ctx, {"event": "start", "stage": cfg.stage, "train_clips": {k: len(v) for k, v in train.items()},
              "val_clips": len(val),
              "resumed_at": ctx["state"]["step"] if ctx["state"] else 0, "processes": accelerator.num_processes})
    return ctx


def _check_distributed(accelerator: Any) -> None:
    """A launcher that started several processes which accelerate then runs each alone would train
    the stage once per process, all writing one output folder. Seen with `accelerate launch
    --multi_gpu` where no GPU is visible, and never an error of accelerate's own."""
    launched = int(os.environ.get("WORLD_SIZE", "1"))
    if launched > 1 and accelerator.num_processes != launched:
        raise InputError(f"WORLD_SIZE={launched}", f"{launched} processes were launched, but accelerate runs "
                         f"each one alone ({accelerator.distributed_type}); on CPUs launch with "
                         "ACCELERATE_USE_CPU=true (README: several processes), on GPUs make each process's GPU visible")


def run_phases(ctx: dict[str, Any]) -> None:
    """Every phase of the stage from where it starts (or resumed)."""
    start = ctx["state"]["step"] if ctx["state"] else 0
    phase_start = 0
    for phase in ctx["cfg"].phases:
        if start < phase_start + phase.steps or (phase.steps == 0 and start == phase_start):
            run_phase(ctx, phase, max(start, phase_start), phase_start)
        phase_start += phase.steps


def _history(cfg: StageConfig) -> list[dict[str, Any]]:
    if cfg.init_from and (Path(cfg.init_from) / "training.json").is_file():
        return json.loads((Path(cfg.init_from) / "training.json").read_text())
    return []


def _resume(out: Path, model: VideoLLM, sampler: BatchSampler) -> dict[str, Any] | None:
    if not (out / "last" / STATE_FILE).is_file():
        return None
    state = restore_state(out / "last", model)
    sampler.rng.setstate(state["sampler"])
    torch.set_rng_state(state["torch_rng"])
    tqdm.write(f"resuming {out} at step {state['step']}")
    return state


def finish_stage(ctx: dict[str, Any]) -> Path:
    """Save `final/` (main process) once every process is done; return its path."""
    cfg, accelerator = ctx["cfg"], ctx["accelerator"]
    final = ctx["out"] / "final"
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        records = [json.loads(line) for line in (ctx["out"] / "log.jsonl").read_text().splitlines()]
        last_val = next((r["validation"] for r in reversed(records) if "validation" in r), {})
        stage_record = {"stage": cfg.stage, "config": ctx["raw"], "steps": cfg.total_steps,
                        "wall_s": round(time.perf_counter() - ctx["started"], 1), "validation": last_val}
        model = accelerator.unwrap_model(ctx["wrapped"])
        save_checkpoint(model, final, ctx["history"] + [stage_record])
        (final / "stage.yaml").write_text(yaml.safe_dump(ctx["raw"], sort_keys=False))
    return final


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="countllm finetune", description="Run one video-LLM training stage.")
    parser.add_argument("--config", required=True, help="stage YAML (finetune/recipes/...)")
    parser.add_argument("--no-resume", action="store_true", help="start over instead of continuing from last/")
    parser.add_argument("overrides", nargs="*", help="dotted key=value overrides, e.g. phases.0.steps=5")
    args = parser.parse_args(argv)
    try:
        final = setup(args.config, args.overrides, resume=not args.no_resume)
    except CountLLMError as exc:  # as `countllm finetune` does: one line, not a traceback
        print(f"countllm finetune: {exc.one_line()}", file=sys.stderr)
        return EXIT_USAGE
    print(f"final checkpoint: {final}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
