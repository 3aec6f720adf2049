"""From a task and a question to the token ids around the visual tokens, and the answer's ids.

The chat text comes from the backbone tokenizer's own chat template (so Qwen, LLaMA and
SmolLM2 each get their native format); `<video>` in the rendered prompt marks where the visual
tokens are spliced in. The template file (`prompts/videollm_count.yaml`) also carries the
question paraphrases and the answer format of each task, so a checkpoint saves all of it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from countllm.prompt_templates import PromptError, PromptTemplate, load_prompt

VIDEO_MARKER = "<video>"
TASKS = ("count", "cycles", "name", "describe")


@dataclass(frozen=True)
class PromptConfig:
    template: str = "videollm_count"
    structured: bool = True  # False: the "no periodicity template" ablation


@dataclass(frozen=True)
class PromptIds:
    before: tuple[int, ...]  # chat text up to the visual tokens
    after: tuple[int, ...]  # the rest of the prompt, ending with the assistant turn's opening


class PromptBuilder:
    """Renders and tokenizes prompts; one per (template, tokenizer), results memoised."""

    def __init__(self, template: PromptTemplate, tokenizer: Any, structured: bool) -> None:
        self.template, self.tokenizer, self.structured = template, tokenizer, structured
        self.questions: dict[str, list[str]] = template.extras.get("questions", {})
        self.formats: dict[str, str] = template.extras.get("answer_formats", {})
        missing = [t for t in TASKS if not self.questions.get(t) or t not in self.formats]
        if missing:
            raise PromptError(f"template {template.name!r} lacks questions or answer_formats for {missing}")
        self.prompt_ids = lru_cache(maxsize=256)(self._prompt_ids)

    @classmethod
    def from_config(cls, cfg: PromptConfig, tokenizer: Any) -> PromptBuilder:
        return cls(load_prompt(cfg.template), tokenizer, cfg.structured)

    def question(self, task: str, rng: random.Random | None = None) -> str:
        """A paraphrase of the task's question: random when training, the first otherwise."""
        options = self.questions[task]
        return rng.choice(options) if rng is not None else options[0]

    def _prompt_ids(self, task: str, question: str) -> PromptIds:
        messages = self.template.render(question=question, answer_format=self.formats[task],
                                        structured=self.structured)
        text = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        if text.count(VIDEO_MARKER) != 1:
            raise PromptError(f"template {self.template.name!r} must contain {VIDEO_MARKER} exactly once")
        before, after = text.split(VIDEO_MARKER)
        encode = lambda s: tuple(self.tokenizer.encode(s, add_special_tokens=False))  # noqa: E731
        return PromptIds(before=encode(before), after=encode(after))

    def answer_ids(self, answer: str) -> tuple[int, ...]:
        """The target: the answer's tokens, then end-of-turn so generation stops by itself."""
        return tuple(self.tokenizer.encode(answer, add_special_tokens=False)) + (self.tokenizer.eos_token_id,)
