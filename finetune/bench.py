"""Video-LLM speed and memory: training steps/s, peak memory, and latency per question.

    python -m countllm.finetune.bench [--model CHECKPOINT] [--steps 5] [--variants fp32 4bit]

Each variant runs in its own child process so its peak resident memory is its own:

* `train`: steps/s of the default recipe's joint phase (batch 4, LoRA on q/v, the periodicity
  transformer and projector trainable) on synthetic clips, and peak RSS;
* `infer`: seconds per counting question on a 30 s clip, from the pose sequence to the parsed
  answer (motion encoding + periodicity transformer + prompt + greedy generation);
* the training-free pose counter on the same clip, measured in the same run, as the baseline.

`4bit` loads the LM in NF4 through bitsandbytes (QLoRA); where bitsandbytes is missing the
variant reports that instead of numbers. The printed table gives figures and ratios; nothing
here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from typing import Any

VARIANTS = {"fp32": "none", "4bit": "4bit", "8bit": "8bit"}
CLIP_SECONDS = 30.0


def _clip():
    from countllm.synthetic.skeleton import SyntheticConfig, make_sequence  # noqa: PLC0415

    seq = make_sequence(SyntheticConfig(exercise="squat", n_reps=12, period_s=2.2, lead_in_s=2.0, lead_out_s=1.6))
    return seq  # 2 + 12 × 2.2 + 1.6 = 30 s


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def child_train(quantization: str, steps: int, checkpoint: str | None) -> dict[str, Any]:
    from dataclasses import replace  # noqa: PLC0415

    from countllm.finetune.config import PhaseConfig  # noqa: PLC0415
    from countllm.finetune.data import DataConfig, synthetic_clips  # noqa: PLC0415
    from countllm.finetune.train import BatchSampler, make_optimizer  # noqa: PLC0415
    from countllm.videollm.backbone import load_backbone  # noqa: PLC0415
    from countllm.videollm.checkpoint import read_config  # noqa: PLC0415
    from countllm.videollm.counter import default_checkpoint  # noqa: PLC0415
    from countllm.videollm.model import LossWeights, VideoLLM  # noqa: PLC0415

    cfg = read_config(checkpoint or default_checkpoint())
    cfg = replace(cfg, backbone=replace(cfg.backbone, quantization=quantization))
    model = VideoLLM(cfg, load_backbone(cfg.backbone))
    phase = PhaseConfig(name="bench", steps=steps, batch_size=4, loss=LossWeights(1.0, 0.5, 0.5))
    optimizer, _ = make_optimizer(model, phase)
    clips = {"synthetic": synthetic_clips(DataConfig(synthetic_clips=16), cfg.encoder)}
    sampler = BatchSampler(clips, {"count": 1.0}, model, 0)
    model.train()
    times = []
    for _ in range(steps + 1):  # the first step warms up and is not timed
        started = time.perf_counter()
        out = model(sampler.batch(phase.batch_size), phase.loss)
        out.loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        times.append(time.perf_counter() - started)
    return {"steps_per_s": 1.0 / (sum(times[1:]) / steps), "peak_rss_mb": _peak_rss_mb()}


def child_infer(quantization: str, repeats: int, checkpoint: str | None) -> dict[str, Any]:

    import torch  # noqa: PLC0415

    from countllm.videollm.answer_format import UnparseableAnswer, parse_answer  # noqa: PLC0415
    from countllm.videollm.checkpoint import load_checkpoint  # noqa: PLC0415
    from countllm.videollm.counter import default_checkpoint  # noqa: PLC0415
    from countllm.videollm.inputs import Sample, collate  # noqa: PLC0415
    from countllm.videollm.motion_encoder import encode  # noqa: PLC0415

    folder = checkpoint or default_checkpoint()
    # same trained parts; with a quantization, the adapter goes onto a quantized base LM
    model = load_checkpoint(folder, backbone=None if quantization == "none" else {"quantization": quantization})
    seq = _clip()
    times, answers = [], []
    for _ in range(repeats + 1):
        started = time.perf_counter()
        with torch.no_grad():
            features = encode(model.cfg.encoder, pose=seq.pose)
            batch = collate([Sample(features, "count", model.prompts.question("count"))], model.prompts)
            text = model.generate(batch)[0][0]
        times.append(time.perf_counter() - started)
        answers.append(text)
    try:
        count = parse_answer(answers[-1]).count
    except UnparseableAnswer:
        count = None
    return {"s_per_question": sum(times[1:]) / repeats, "answer": answers[-1], "count": count, "truth": seq.count,
            "peak_rss_mb": _peak_rss_mb()}


def child_baseline(repeats: int) -> dict[str, Any]:
    from countllm.counters.pose_counter import PoseCounter  # noqa: PLC0415

    seq = _clip()
    pose = seq.pose
    from countllm.pose.gaps import interpolate_gaps  # noqa: PLC0415
    from countllm.types import Pose  # noqa: PLC0415

    pose = Pose(interpolate_gaps(pose.joints, pose.valid), pose.valid, pose.fps, pose.layout, pose.source)
    times = []
    for _ in range(repeats + 1):
        started = time.perf_counter()
        result = PoseCounter().count(pose)
        times.append(time.perf_counter() - started)
    return {"s_per_question": sum(times[1:]) / repeats, "count": result.count, "truth": seq.count,
            "peak_rss_mb": _peak_rss_mb()}


def _run_child(args: list[str]) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-m", "countllm.finetune.bench", "--child", *args],
                          capture_output=True, text=True)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": tail[:200]}
    return json.loads(lines[-1])


def run(variants: list[str], steps: int, repeats: int, checkpoint: str | None) -> str:
    ckpt = ["--model", checkpoint] if checkpoint else []
    base = _run_child(["baseline", "--repeats", str(repeats)])
    rows = [("training-free pose counter (baseline)", None, base)]
    for v in variants:
        rows.append((f"video-LLM {v}: train", "train", _run_child(["train", v, "--steps", str(steps), *ckpt])))
        rows.append((f"video-LLM {v}: answer", "infer", _run_child(["infer", v, "--repeats", str(repeats), *ckpt])))
    return format_rows(rows, base)


def format_rows(rows: list[tuple[str, str | None, dict[str, Any]]], base: dict[str, Any]) -> str:
    lines = [f"video-LLM benchmark, {CLIP_SECONDS:.0f} s clip (pose sequence in), 2-core CPU figures where run here",
             f"{'what':44s} {'figure':>22s} {'vs baseline':>12s} {'peak RSS':>10s}  answer"]
    for name, kind, r in rows:
        if "error" in r:
            lines.append(f"{name:44s} unavailable: {r['error']}")
            continue
        if kind == "train":
            figure, ratio = f"{r['steps_per_s']:.2f} steps/s", ""
        else:
            figure = f"{r['s_per_question'] * 1000:.0f} ms/question"
            ratio = f"{r['s_per_question'] / base['s_per_question']:.0f}×" if "s_per_question" in base else ""
        said = f"{r['answer']!r} → " if "answer" in r else ""
        answer = f"{said}count {r.get('count')}, truth {r.get('truth')}" if "truth" in r else ""
        lines.append(f"{name:44s} {figure:>22s} {ratio:>12s} {r['peak_rss_mb']:>8.0f}MB  {answer}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="checkpoint folder (default: the shipped default)")
    parser.add_argument("--steps", type=int, default=5, help="timed training steps per variant")
    parser.add_argument("--repeats", type=int, default=3, help="timed questions per variant")
    parser.add_argument("--variants", nargs="+", default=["fp32", "4bit"], choices=sorted(VARIANTS))
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        kind, *rest = args.child
        if kind == "baseline":
            result = child_baseline(args.repeats)
        elif kind == "train":
            result = child_train(VARIANTS[rest[0]], args.steps, args.model)
        else:
            result = child_infer(VARIANTS[rest[0]], args.repeats, args.model)
        print(json.dumps(result))
        return 0
    print(run(args.variants, args.steps, args.repeats, args.model))
    return 0


if __name__ == "__main__":
    sys.exit(main())
