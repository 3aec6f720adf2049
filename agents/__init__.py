"""The agent layer: LLM backends (`llm/`), `countllm serve`, batch calls and knowledge mining.

Installed as `countllm.agents`. `mining/` mines action co-occurrence (docs/design.md §3) and
semantic priors (§5) through `batch.BatchRunner`.
The core library never imports this package.
"""
