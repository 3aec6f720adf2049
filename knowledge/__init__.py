"""Knowledge mined from LLMs and shipped with countllm: co-occurrence matrices, semantic priors.

Installed as `countllm.knowledge`; data files only, no code. `exercise_priors.json` holds the
semantic priors of common exercises (docs/design.md §5), mined by `countllm mine priors` from the
action list `exercises.txt`; read it with `countllm.priors.load_priors(default_priors_path())`.
Every mined file records the model, prompt template and command that produced it, and lists
what failed to validate rather than filling it in.
"""
