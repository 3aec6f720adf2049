"""Knowledge mined from LLMs and shipped with countllm: co-occurrence matrices, semantic priors."""
