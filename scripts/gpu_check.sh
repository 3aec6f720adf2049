#!/usr/bin/env bash
# The GPU check (python -m countllm.finetune.gpu_check: bf16 training, QLoRA, several processes)
# on a GPU machine that has torch but not this project's other packages, and no network.
#   bash scripts/gpu_check.sh prepare   # here, with ./.venv and PyPI: fill .gpucheck/ (ignored by git)
#   bash scripts/gpu_check.sh [ARGS]    # there, in a copy of the repo with .gpucheck/: install, then check
# ARGS go to the check (see its --help). What prepare puts in .gpucheck/ (about 22 MB):
#   wheels/     transformers, peft and accelerate at .venv's versions (what the CPU tests ran on);
#   site/       bitsandbytes from .venv, cut to its CPU and CUDA 13 libraries (the wheel is 43 MB);
#   stubs/      import-only stand-ins for decord and av, used only where those are not installed:
#               countllm.synthetic imports the video reader and writer, which training never calls;
#   lm-config/  the default SmolLM2's config and tokenizer without its weights, for --random-weights
#               (the weights, 98 MB even as 4-bit GGUF, do not fit a 64 MiB transfer).
# On a machine with the real weights: bash scripts/gpu_check.sh (no ARGS) checks the real default.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=.gpucheck

prepare() {
  local vpy=.venv/bin/python
  [ -x "$vpy" ] || { echo "gpu_check: no .venv here; run bash scripts/setup.sh first" >&2; exit 2; }
  mkdir -p .git/info
  grep -qxF "/$DIR/" .git/info/exclude 2>/dev/null || echo "/$DIR/" >>.git/info/exclude
  rm -rf "$DIR" && mkdir -p "$DIR/wheels" "$DIR/site" "$DIR/stubs/av" "$DIR/stubs/decord/_ffi" "$DIR/lm-config"
  for pkg in transformers peft accelerate; do
    version=$("$vpy" -c "import importlib.metadata as m; print(m.version('$pkg'))")
    "$vpy" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
      --platform manylinux_2_28_x86_64 -d "$DIR/wheels" "$pkg==$version"
  done
  local bnb
  bnb=$("$vpy" -c "import importlib.util as u; print(u.find_spec('bitsandbytes').submodule_search_locations[0])")
  cp -r "$bnb" "$(dirname "$bnb")"/bitsandbytes-*.dist-info "$DIR/site/"
  find "$DIR/site/bitsandbytes" -name 'libbitsandbytes_*.so' ! -name '*_cpu.so' ! -name '*_cuda13*.so' -delete
  find "$DIR/site" -name __pycache__ -prune -exec rm -rf {} +
  echo '"""Stand-in (scripts/gpu_check.sh): imported by countllm.video, never called in training."""
def __getattr__(name):
    raise ImportError(f"this {__name__} is an import-only stand-in (scripts/gpu_check.sh); {name} is not here")' \
    | tee "$DIR/stubs/av/__init__.py" "$DIR/stubs/decord/__init__.py" "$DIR/stubs/decord/_ffi/__init__.py" >/dev/null
  echo 'class DECORDError(Exception):
    """Stand-in for decord._ffi.base.DECORDError (scripts/gpu_check.sh)."""' >"$DIR/stubs/decord/_ffi/base.py"
  local lm
  lm=$("$vpy" -c "from countllm.default_lm import ensure_default_model; print(ensure_default_model())")
  for f in config.json generation_config.json tokenizer.json tokenizer_config.json chat_template.jinja; do
    [ -f "$lm/$f" ] && cp "$lm/$f" "$DIR/lm-config/"
  done
  echo "[gpu_check] $DIR: $(du -sh "$DIR" | cut -f1); with the tracked files: $(($(git ls-files -z | du -cb --files0-from=- | tail -1 | cut -f1) / 1048576 + $(du -sb "$DIR" | cut -f1) / 1048576)) MiB"
}

run() {
  local py=${PYTHON:-python3} site=${GPU_CHECK_SITE:-/tmp/gpu_check_site}
  local wheels=()
  [ -d "$DIR" ] && wheels=("$DIR"/wheels/*.whl)
  rm -rf "$site" && mkdir -p "$site"
  "$py" -m pip install -q --no-index --no-deps --no-build-isolation --no-compile --target "$site" "${wheels[@]}" .
  if [ -d "$DIR" ]; then
    cp -r "$DIR/site/." "$site/"
    for m in decord av; do "$py" -c "import $m" 2>/dev/null || cp -r "$DIR/stubs/$m" "$site/"; done
  fi
  # PYTHONSAFEPATH: the repo root must not shadow the installed countllm (countllm.finetune is
  # mapped from finetune/ only in an installed copy), in the check and in every child it starts.
  export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}" PYTHONSAFEPATH=1 PYTHONUNBUFFERED=1
  exec "$py" -m countllm.finetune.gpu_check "$@"
}

if [ "${1:-}" = prepare ]; then prepare; else run "$@"; fi
