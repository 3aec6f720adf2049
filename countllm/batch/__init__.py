"""Batch work at scale: `countllm batch` over files, folders and globs, resumable, on an engine.

- `inputs`: what INPUTS... expand to (files, folders searched for videos and pose files, globs).
- `records`: the JSONL results file, which is also the resume record (keyed by absolute path,
  size, modification time and method), appended line by line, safe against a SIGKILL.
- `resume`: the project's one resume rule and interruption contract, shared with the LLM batch
  jobs of `countllm.agents.batch` (done: reused; failed: reported unless retried; else: do it).
- `engines`: in-process, a local process pool, or Ray, behind one `map_unordered`; also what
  `countllm eval --workers` runs on.
- `runner`: `run_batch`, the command's flow; `bench`: throughput for 1 and 2 workers.

This package's `__init__` imports nothing heavy (the agents import `resume` from here); the
runner, which imports the counting pipeline, is imported by name: `countllm.batch.runner`.
"""

from countllm.batch.resume import BatchInterrupted, ResumePlan, plan_resume

__all__ = ["BatchInterrupted", "ResumePlan", "plan_resume"]
