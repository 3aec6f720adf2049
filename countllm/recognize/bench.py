"""How fast the recognizer runs and how big it is.

    python -m countllm.recognize.bench [--model DIR] [--threads 2] [--sequences 256]

Prints sequences/s for whole-clip recognition of full-length motion images (the checkpoint's max_frames) in
batches of 32 — the model's work only, the pose is given — and the size of the weights on
disk (fp16) and in memory (fp32). Goals (issue #10): ≥ 50 sequences/s on 2 CPU cores, < 50 MB.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from countllm.recognize.checkpoint import WEIGHTS
from countllm.recognize.motion_image import image_from_joints, pad_image
from countllm.recognize.questions import question
from countllm.recognize.recognizer import load_recognizer


def run_bench(model: str | None, threads: int, sequences: int) -> dict[str, float]:
    import torch  # noqa: PLC0415

    torch.set_num_threads(threads)
    recognizer = load_recognizer(model)
    img = recognizer.cfg.image
    rng = np.random.default_rng(0)
    joints = rng.uniform(-0.5, 0.5, (img.max_frames, 17, 3)).astype(np.float32)
    image, mask = pad_image(image_from_joints(joints, img.points_per_chain), img.max_frames)
    images, masks = np.stack([image] * sequences), np.stack([mask] * sequences)
    texts = [question("recognize")] * sequences
    recognizer.predict(images[:32], masks[:32], texts[:32])  # warm-up
    started = time.perf_counter()
    recognizer.predict(images, masks, texts)
    seconds = time.perf_counter() - started
    folder = recognizer.folder
    disk = (folder / WEIGHTS).stat().st_size / 2**20 if folder is not None else float("nan")
    fp32 = sum(p.numel() for p in recognizer.model.parameters()) * 4 / 2**20
    return {"sequences_per_s": sequences / seconds, "threads": threads, "image_s": img.max_seconds,
            "weights_mb_fp16_on_disk": disk,
            "weights_mb_fp32_in_memory": fp32}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="recognizer folder (default: the shipped one)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sequences", type=int, default=256)
    args = parser.parse_args(argv)
    r = run_bench(args.model, args.threads, args.sequences)
    print(f"recognizer: {r['sequences_per_s']:.1f} sequences/s ({r['image_s']:g} s motion images, batch 32, "
          f"{r['threads']} threads); weights {r['weights_mb_fp16_on_disk']:.2f} MB fp16 on disk, "
          f"{r['weights_mb_fp32_in_memory']:.2f} MB fp32 in memory")
    return 0


if __name__ == "__main__":
    sys.exit(main())
