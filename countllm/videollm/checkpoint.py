"""Save and load what training produces — never the base model.

A checkpoint folder holds:

    config.json                 VideoLLMConfig (+ format version and the backbone it was trained on)
    periodicity.safetensors     the periodicity transformer
    projector.safetensors       the projector
    adapter/                    the LoRA adapter (peft's own format: adapter_config.json + weights)
    template.yaml               the exact prompt template text used (questions and answer formats too)
    training.json               the history of stages that made it (optional)

Each weight file stays a few MB, so a trained default can live in the repository. The base LM
is found again from `config.backbone.path` (None: the default SmolLM2), or from an explicit
`backbone_path` so a user can point a checkpoint at their own copy of the same model.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from countllm.errors import CountLLMError, ModelUnavailable
from countllm.prompt_templates import load_prompt, parse_prompt
from countllm.videollm.backbone import load_backbone
from countllm.videollm.model import VideoLLM, VideoLLMConfig

FORMAT_VERSION = 1
WEIGHT_FILES = {"periodicity": "periodicity.safetensors", "projector": "projector.safetensors"}
MAKE_ONE = "make one with `countllm finetune --config finetune/recipes/default/stage3_instruct.yaml`"


class CheckpointError(ModelUnavailable):
    """A checkpoint folder that is missing or incomplete; the message names the path and the fix."""


def save_checkpoint(model: VideoLLM, folder: str | Path, history: list[dict[str, Any]] | None = None) -> Path:
    """Write the trained parts of `model` into `folder` (created if needed)."""
    from safetensors.torch import save_file  # noqa: PLC0415

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    config = {"format_version": FORMAT_VERSION, "model": model.cfg.to_dict(),
              "trained_on_backbone": model.backbone.info}
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    for name, filename in WEIGHT_FILES.items():
        module = getattr(model, name)
        tensors = {k: v.detach().float().contiguous().cpu() for k, v in module.state_dict().items()}
        save_file(tensors, str(folder / filename))
    model.lm.save_pretrained(str(folder / "adapter"))
    (folder / "template.yaml").write_text(model.prompts.template.source)
    if history is not None:
        (folder / "training.json").write_text(json.dumps(history, indent=2))
    return folder


def read_config(folder: str | Path) -> VideoLLMConfig:
    path = Path(folder) / "config.json"
    if not Path(folder).is_dir():
        raise CheckpointError(str(folder), f"no such folder; pass a video-LLM checkpoint folder, or {MAKE_ONE}")
    if not path.is_file():
        raise CheckpointError(str(folder), f"no video-LLM checkpoint here (config.json missing); {MAKE_ONE}")
    try:
        data = json.loads(path.read_text())
        version = data.get("format_version")
        if version != FORMAT_VERSION:
            raise CheckpointError(str(path), f"checkpoint format {version}, this code reads {FORMAT_VERSION}; "
                                  f"{MAKE_ONE}")
        return VideoLLMConfig.from_dict(data["model"])
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError, KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, CheckpointError):
            raise
        raise CheckpointError(str(path), f"not a readable checkpoint config ({exc}); {MAKE_ONE}") from None


def load_checkpoint(folder: str | Path, backbone_path: str | None = None, trainable: bool = False,
                    device: str = "cpu", backbone: dict[str, Any] | None = None) -> VideoLLM:
    """Rebuild a VideoLLM from `folder`: base LM from its path, then adapter and trained parts.

    `backbone`: BackboneConfig fields to load the base LM with instead of the saved ones (e.g.
    `{"quantization": "4bit"}`): the same trained parts and adapter on a quantized or bf16 LM."""
    folder = Path(folder)
    cfg = read_config(folder)
    if backbone_path is not None:
        cfg = replace(cfg, backbone=replace(cfg.backbone, path=backbone_path))
    if backbone:
        cfg = replace(cfg, backbone=replace(cfg.backbone, **backbone))
    for needed in [*WEIGHT_FILES.values(), "adapter/adapter_config.json", "template.yaml"]:
        if not (folder / needed).exists():
            raise CheckpointError(str(folder), f"incomplete checkpoint, {needed} is missing; {MAKE_ONE}")
    _check_template(folder, cfg.prompt.template)
    with _weights_file(folder / "adapter"):
        backbone = load_backbone(cfg.backbone, adapter=folder / "adapter", trainable=trainable)
    model = VideoLLM(cfg, backbone)
    load_trained_parts(model, folder)
    model.to(device)
    model.train(trainable)
    return model


def load_trained_parts(model: VideoLLM, folder: str | Path, adapter: bool = False) -> None:
    """Load a checkpoint's periodicity transformer and projector (and with `adapter`, its LoRA
    weights) into an already built model of the same configuration — no second base LM."""
    from safetensors.torch import load_file  # noqa: PLC0415

    folder = Path(folder)
    for name, filename in WEIGHT_FILES.items():
        with _weights_file(folder / filename):
            getattr(model, name).load_state_dict(load_file(str(folder / filename)), strict=True)
    if adapter:
        from peft import set_peft_model_state_dict  # noqa: PLC0415

        weights = folder / "adapter" / "adapter_model.safetensors"
        with _weights_file(weights):
            result = set_peft_model_state_dict(model.lm, load_file(str(weights)))
        if result.unexpected_keys:
            raise CheckpointError(str(weights), f"adapter weights do not fit this model "
                                  f"(unexpected {result.unexpected_keys[:3]}); {MAKE_ONE}")


@contextmanager
def _weights_file(path: Path) -> Iterator[None]:
    """A weights file that is truncated, foreign or of another shape is a CheckpointError naming it."""
    from safetensors import SafetensorError  # noqa: PLC0415 — safetensors on demand

    try:
        yield
    except (OSError, RuntimeError, ValueError, KeyError, TypeError, SafetensorError) as exc:
        if isinstance(exc, ModelUnavailable):
            raise
        reason = (str(exc).splitlines() or [type(exc).__name__])[0][:160]
        raise CheckpointError(str(path), f"unreadable or does not fit this model ({reason}); {MAKE_ONE}") from None


def _check_template(folder: Path, name: str) -> None:
    """The prompt a checkpoint was trained with must be the one the code will render now."""
    path = folder / "template.yaml"
    try:
        saved = parse_prompt(path.read_text(), str(path))
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:  # PromptError is a ValueError
        reason = exc.message if isinstance(exc, CountLLMError) else (str(exc).splitlines() or [""])[0][:160]
        raise CheckpointError(str(path), f"not a readable prompt template ({reason}); {MAKE_ONE}") from None
    current = load_prompt(name)
    if saved.digest != current.digest:
        raise CheckpointError(str(path), f"trained with template {name!r} v{saved.version} ({saved.digest}), but "
                              f"prompts/{name}.yaml is now v{current.version} ({current.digest}); restore the "
                              f"template the checkpoint saved, or retrain: {MAKE_ONE}")
