"""The CountLLM video-LLM (DESIGN.md §1): counting as language generation.

`answer_format` defines the standardized answer and its strict parser; the model, the
periodicity transformer and the projector arrive with issue #3.
"""
