"""Prompt templates as data (YAML + Jinja), shipped as package data `countllm.prompts`.

`videollm_count` is the video-LLM's periodicity template with its questions and answer formats;
`cooccurrence` and `semantic_priors` are the mining questions. Load them with
`countllm.prompt_templates.load_prompt(name)`.
"""
