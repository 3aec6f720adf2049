"""The agent layer and LLM knowledge mining (issue #4).

Installed as `countllm.agents`. Nothing here yet: it arrives with knowledge mining.
The core library never imports this package.
"""
