"""Prompt templates as data (YAML + Jinja), shipped as package data `countllm.prompts`.

The periodicity template and the answer format arrive with the video-LLM (issue #3).
"""
