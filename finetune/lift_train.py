"""Train the exercise recognizer (countllm/recognize, docs/design.md §2) from a YAML recipe.

    python -m countllm.finetune.lift_train --config finetune/recipes/lift/default.yaml \\
        data.real_annotations=outputs/countix_pose/annotations.csv [key=value ...] [--no-resume]

`setup(config, overrides, resume)` is the recipe; its arguments are the command line. Each epoch
draws fresh samples (finetune/lift_data.py), trains with Adam on the weighted multi-hot BCE,
then validates on the `dev` clips (held back from the training part of the project's split);
the epoch with the lowest dev NLL (at its best temperature) is kept, training stops after
`patience` epochs without improvement. `<output_dir>/last/` holds the state after every epoch,
so a rerun resumes where it stopped. At the end the kept model's temperature and confidence
floor are fitted on dev, together with the posture-and-motion head (fitted on the training
clips, `finetune/lift_head.py`), it is scored once on the project's val clips, and
`<output_dir>/final/` is written: a checkpoint folder `load_recognizer` reads, with a
training.json saying what data, split, epochs and validation metrics made it.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from tqdm import tqdm

from countllm import labels
from countllm.recognize.checkpoint import Calibration, save_checkpoint
from countllm.recognize.kinematics import KinematicHeadConfig
from countllm.recognize.model import LiftArch, LiftConfig, LiftModel, n_parameters
from countllm.recognize.motion_image import MotionImageConfig
from countllm.recognize.questions import QuestionTokenizer
from countllm.recognize.recognizer import Recognizer, exercise_log_likelihood, softmax
from countllm.recognize.words import OutputVocabulary

from .config import apply_override
from .lift_data import Item, LiftDataConfig, collate, epoch_samples, real_items, synthetic_items
from .lift_eval import clean_synthetic_check, format_clean_check, format_summary, score_items
from .lift_head import TEMPERATURES, with_head, write_folder


@dataclass(frozen=True)
class LiftTrainConfig:
    kind: str = "lift"
    output_dir: str = "outputs/lift/default"
    arch: LiftArch = field(default_factory=LiftArch)
    image: MotionImageConfig = field(default_factory=MotionImageConfig)
    data: LiftDataConfig = field(default_factory=LiftDataConfig)
    head: KinematicHeadConfig = field(default_factory=KinematicHeadConfig)
    lr: float = 5e-5
    weight_decay: float = 0.0
    schedule: str = "constant"  # or "cosine": linear warm-up for warmup_epochs, then cosine to min_lr_fraction·lr
    warmup_epochs: float = 0.0
    min_lr_fraction: float = 0.05
    batch_size: int = 32
    max_epochs: int = 60
    patience: int = 5
    seed: int = 0
    threads: int = 1
    max_batches_per_epoch: int | None = None  # smoke tests
    dev_synthetic_clips: int = 24  # dev clips generated when there is no real data
    dev_synthetic_with_real: int = 0  # generated dev clips added to the real ones: the epoch and calibration
    # are then chosen for both kinds of input (the agent leans on clean synthetic-like poses too)
    clean_synthetic_seeds: int = 3  # the final check on the generator's default clips (lift_eval.clean_synthetic_check)


def _build(cls: type, data: dict[str, Any], where: str) -> Any:
    names = {f.name for f in fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}; accepted: {sorted(names)}")
    floats = {f.name for f in fields(cls) if f.type == "float"}  # YAML reads 5e-4 (no dot) as a string
    return cls(**{k: float(v) if k in floats and isinstance(v, (str, int)) else v for k, v in data.items()})


def config_from_dict(data: dict[str, Any], where: str = "config") -> LiftTrainConfig:
    data = dict(data)
    if data.get("kind", "lift") != "lift":
        raise ValueError(f"{where}: kind {data.get('kind')!r} is not a recognizer recipe (kind: lift)")
    data["arch"] = _build(LiftArch, data.get("arch") or {}, f"{where}: arch")
    data["image"] = _build(MotionImageConfig, data.get("image") or {}, f"{where}: image")
    raw = dict(data.get("data") or {})
    for key in ("synthetic_exercises", "speed_range"):
        if key in raw:
            raw[key] = tuple(raw[key])
    data["data"] = _build(LiftDataConfig, raw, f"{where}: data")
    data["head"] = _build(KinematicHeadConfig, data.get("head") or {}, f"{where}: head")
    return _build(LiftTrainConfig, data, where)


def load_config(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> tuple[LiftTrainConfig, dict]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no recipe at {path}; the recognizer recipes are in finetune/recipes/lift/")
    data = yaml.safe_load(path.read_text()) or {}
    for assignment in overrides:
        apply_override(data, assignment)
    return config_from_dict(data, str(path)), data


# --------------------------------------------------------------------------- the pieces
def load_items(cfg: LiftTrainConfig) -> dict[str, list[Item]]:
    """train / dev / val items (see finetune/lift_data.py for the split)."""
    train = synthetic_items(cfg.data, cfg.image) + real_items(cfg.data, cfg.image, "train")
    dev = real_items(cfg.data, cfg.image, "dev")
    if dev and cfg.dev_synthetic_with_real:
        dev += synthetic_items(LiftDataConfig(synthetic_clips=cfg.dev_synthetic_with_real,
                                              synthetic_exercises=cfg.data.synthetic_exercises), cfg.image, 777)
    if not dev:  # no real data: generated clips from seeds training never draws
        dev = synthetic_items(LiftDataConfig(synthetic_clips=cfg.dev_synthetic_clips,
                                             synthetic_exercises=cfg.data.synthetic_exercises), cfg.image, 777)
    if not train:
        raise ValueError("no training data: set data.synthetic_clips > 0 or data.real_annotations")
    return {"train": train, "dev": dev, "val": real_items(cfg.data, cfg.image, "val")}


def build_model(cfg: LiftTrainConfig, exercises: list[str]) -> LiftModel:
    vocab = OutputVocabulary.for_exercises(exercises)
    tokenizer = QuestionTokenizer.build(exercises, cfg.arch.max_question_tokens)
    model_cfg = LiftConfig(**asdict(cfg.arch), image=cfg.image, question_words=tokenizer.words,
                           output_words=vocab.words, output_weights=vocab.weights, exercises=tuple(exercises))
    return LiftModel(model_cfg)


def learning_rate(cfg: LiftTrainConfig, progress: float) -> float:
    """The learning rate `progress` epochs into training (fractional: the schedule moves every batch).

    Why a schedule: at a constant 1e-3 the dev scores of the first shipped model swung by ±0.15
    from epoch to epoch; a warm-up keeps the first steps of a fresh transformer from blowing up
    and the cosine tail lets the last epochs settle."""
    if cfg.schedule == "constant":
        return cfg.lr
    if cfg.schedule != "cosine":
        raise ValueError(f"schedule must be constant or cosine, got {cfg.schedule!r}")
    if progress < cfg.warmup_epochs:
        return cfg.lr * (progress + 1e-3) / cfg.warmup_epochs
    span = max(cfg.max_epochs - cfg.warmup_epochs, 1e-9)
    t = min(1.0, (progress - cfg.warmup_epochs) / span)
    return cfg.lr * (cfg.min_lr_fraction + (1 - cfg.min_lr_fraction) * 0.5 * (1 + math.cos(math.pi * t)))


def train_epoch(model: LiftModel, optimizer: torch.optim.Optimizer, items: list[Item], epoch: int,
                cfg: LiftTrainConfig) -> float:
    samples = epoch_samples(items, epoch, cfg.seed, cfg.data, cfg.image, model.cfg.vocabulary)
    batches = [samples[i:i + cfg.batch_size] for i in range(0, len(samples), cfg.batch_size)]
    batches = batches[: cfg.max_batches_per_epoch] if cfg.max_batches_per_epoch else batches
    model.train()
    losses = []
    bar = tqdm(batches, desc=f"epoch {epoch + 1}", unit="batch", leave=False)
    for step, batch in enumerate(bar):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(cfg, epoch + step / len(batches))
        arrays = {k: torch.from_numpy(v) for k, v in collate(batch, cfg.image, model.cfg.tokenizer).items()}
        targets = arrays.pop("targets")
        logits = model(**arrays)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, targets, reduction="sum") / len(batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}")
    return float(np.mean(losses))


def fit_temperature(log_lik: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """(temperature, NLL) minimising the NLL of the true exercises over the TEMPERATURES grid."""
    best = (1.0, float("inf"))
    for t in TEMPERATURES:
        nll = float(-np.log(np.maximum(softmax(log_lik, t)[np.arange(len(truth)), truth], 1e-12)).mean())
        if nll < best[1]:
            best = (float(t), nll)
    return best


def dev_log_lik(model: LiftModel, items: list[Item]) -> tuple[np.ndarray, np.ndarray]:
    """(N, E) exercise log-likelihoods of the dev clips of known classes, and their true indices."""
    rec = Recognizer(model, Calibration(1.0, 0.0))
    known = [it for it in items if it.label in rec.exercises]
    model.eval()
    word_probs = []
    for item in known:
        _, probs, lengths = rec.window_word_probs(item.joints, rec.cfg.image.max_seconds, rec.cfg.image.max_seconds / 2)
        word_probs.append((probs[:, : rec.n_words] * lengths[:, None]).sum(0) / lengths.sum())
    truth = np.array([rec.exercises.index(it.label) for it in known])
    return exercise_log_likelihood(np.stack(word_probs), rec.targets), truth


# --------------------------------------------------------------------------- state
def save_state(folder: Path, model: LiftModel, optimizer: Any, state: dict[str, Any]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / "state.pt.tmp"
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "state": state,
                "model_config": model.cfg.to_dict()}, tmp)
    tmp.replace(folder / "state.pt")


def restore_state(folder: Path, model: LiftModel, optimizer: Any) -> dict[str, Any] | None:
    path = folder / "state.pt"
    if not path.is_file():
        return None
    saved = torch.load(path, weights_only=False)
    if saved["model_config"] != model.cfg.to_dict():
        raise ValueError(f"{path} was trained with another model/vocabulary; pass --no-resume or another output_dir")
    model.load_state_dict(saved["model"])
    optimizer.load_state_dict(saved["optimizer"])
    return saved["state"]


def data_summary(items: dict[str, list[Item]], cfg: LiftTrainConfig) -> dict[str, Any]:
    def per_class(its: list[Item]) -> dict[str, int]:
        out: dict[str, int] = {}
        for it in its:
            key = ("synthetic " if it.cycles is not None else "real ") + it.label
            out[key] = out.get(key, 0) + 1
        return dict(sorted(out.items()))

    return {"split": f"val = finetune.data.split_of(file name, {cfg.data.val_fraction:.4f}) == 'val' (the "
                     f"project's split); dev = {cfg.data.dev_fraction} of the rest by a salted hash",
            "real_annotations": cfg.data.real_annotations, "synthetic_clips": cfg.data.synthetic_clips,
            **{f"{k}_clips": per_class(v) for k, v in items.items()}}


# --------------------------------------------------------------------------- the recipe
def setup(config: str | Path, overrides: list[str] | tuple[str, ...] = (), resume: bool = True) -> Path:
    """Train as the recipe says; returns `<output_dir>/final` (see the module doc)."""
    cfg, raw = load_config(config, overrides)
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    out = Path(cfg.output_dir)
    items = load_items(cfg)
    order = labels.known_ids()
    exercises = sorted({it.label for it in items["train"]}, key=order.index)
    model = build_model(cfg, exercises)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    state = (restore_state(out / "last", model, optimizer) if resume else None) or \
        {"epoch": 0, "best": float("inf"), "best_epoch": None, "bad_epochs": 0, "history": []}
    print(f"recognizer: {n_parameters(model):,} weights, {len(exercises)} exercises, "
          f"{len(items['train'])} train / {len(items['dev'])} dev / {len(items['val'])} val clips; "
          f"starting at epoch {state['epoch'] + 1}", file=sys.stderr)
    while state["epoch"] < cfg.max_epochs and state["bad_epochs"] < cfg.patience:
        started = time.time()
        loss = train_epoch(model, optimizer, items["train"], state["epoch"], cfg)
        log_lik, truth = dev_log_lik(model, items["dev"])
        temperature, nll = fit_temperature(log_lik, truth)
        record = {"epoch": state["epoch"] + 1, "train_loss": loss, "dev_nll": nll, "dev_temperature": temperature,
                  "dev_accuracy": float((log_lik.argmax(1) == truth).mean()),
                  "lr_end": learning_rate(cfg, state["epoch"] + 1), "seconds": time.time() - started}
        state["history"].append(record)
        state["epoch"] += 1
        if nll < state["best"] - 1e-4:
            state.update(best=nll, best_epoch=state["epoch"], bad_epochs=0)
            save_checkpoint(model, out / "best", Calibration(temperature, 0.0))
        else:
            state["bad_epochs"] += 1
        save_state(out / "last", model, optimizer, state)
        print(" ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in record.items()),
              file=sys.stderr)
    return _finish(cfg, raw, items, state, out)


def _finish(cfg: LiftTrainConfig, raw: dict, items: dict[str, list[Item]], state: dict, out: Path) -> Path:
    from countllm.recognize.checkpoint import load_checkpoint  # noqa: PLC0415

    model, _ = load_checkpoint(out / "best")
    recognizer, examples, head_report = with_head(model, items["train"], items["dev"], cfg.head, TEMPERATURES)
    val = score_items(recognizer, items["val"]) if items["val"] else None
    clean = clean_synthetic_check(recognizer, cfg.clean_synthetic_seeds) if cfg.clean_synthetic_seeds else None
    training = {"recipe": raw, "data": data_summary(items, cfg), "epochs_run": state["epoch"],
                "best_epoch": state["best_epoch"], "history": state["history"],
                "calibration": head_report["calibration"], "dev": head_report["dev"], "kinematic_head": head_report,
                "val": val, "clean_synthetic": clean, "weights": n_parameters(model),
                "note": "val clips were used for nothing but this final score"}
    final = write_folder(recognizer, examples, out / "final", training)
    if val is not None:
        print(format_summary("val", val), file=sys.stderr)
    if clean is not None:
        print(format_clean_check(clean), file=sys.stderr)
    return final


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, type=Path, help="the recipe YAML (finetune/recipes/lift/)")
    parser.add_argument("--no-resume", action="store_true", help="start over instead of continuing from last/")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="dotted overrides, e.g. lr=3e-4")
    args = parser.parse_args(argv)
    try:
        load_config(args.config, args.overrides)
    except (FileNotFoundError, ValueError, TypeError, KeyError) as exc:
        print(f"lift_train: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    print(f"final checkpoint: {setup(args.config, args.overrides, resume=not args.no_resume)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
