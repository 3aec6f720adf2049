"""Exercise recognition by the video-LLM: "What exercise is being performed?" on labelled pose files.

    python -m countllm.eval.videollm_name --annotations CSV --media-dir DIR [--model CHECKPOINT] [--fps 30]

The label is the CSV's `type` column, spelled as people say it (`countllm.labels.display_name`
of the id it normalises to: `pull_ups` → "pull-up", the name the video-LLM was taught); rows
whose class names no exercise (RepCountA's "others") are skipped and counted. The answer must
parse as `Exercise: NAME.` — an unparseable answer is counted as wrong and listed, never mapped
to the nearest class. Prints accuracy, the parse rate and a confusion list.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from tqdm import tqdm

from countllm import labels
from countllm.benchmarks.annotations import load_annotations
from countllm.errors import InputError
from countllm.eval.run import find_media
from countllm.pose.io import load_pose_file
from countllm.videollm.counter import VideoLLMCounter


def evaluate_names(annotations: Path, media_dir: Path, model: str | None, fps: float) -> dict:
    rows, _ = load_annotations(annotations)
    counter = VideoLLMCounter(model)
    results, skipped = [], 0
    for ann in tqdm(rows, desc="name the exercise", unit="item"):
        truth = labels.spoken_name(ann.action_type)
        if truth is None:
            skipped += 1
            continue
        pose = load_pose_file(find_media(media_dir, ann.name), ann.fps or fps)
        try:
            said = counter.name_exercise(pose)
        except InputError as exc:
            said = f"<unparseable: {exc.message[-60:]}>"
        results.append((ann.name, truth, said))
    correct = sum(t == s for _, t, s in results)
    return {"n": len(results), "skipped": skipped, "accuracy": correct / max(len(results), 1),
            "parse_rate": sum(not s.startswith("<unparseable") for *_, s in results) / max(len(results), 1),
            "confusions": Counter((t, s) for _, t, s in results if t != s).most_common(10)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--annotations", type=Path, required=True)
    parser.add_argument("--media-dir", type=Path, required=True)
    parser.add_argument("--model", help="checkpoint folder (default: the shipped default)")
    parser.add_argument("--fps", type=float, default=30.0, help="frame rate of the pose files")
    args = parser.parse_args(argv)
    report = evaluate_names(args.annotations, args.media_dir, args.model, args.fps)
    print(f"items {report['n']}  accuracy {report['accuracy']:.3f}  parse rate {report['parse_rate']:.3f}  "
          f"(skipped {report['skipped']} rows whose class names no exercise)")
    for (truth, said), n in report["confusions"]:
        print(f"  {truth!r} answered as {said!r}: {n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
