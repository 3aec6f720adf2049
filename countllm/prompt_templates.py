"""Prompt templates are data: YAML files in `prompts/`, rendered with Jinja, loaded by name.

A template file holds `name`, `version`, `description`, the `variables` it needs, and one
Jinja template per chat role (`system`, `user`, optionally `assistant` for a primed answer).
Any other top-level key is data that belongs with the template (e.g. the question paraphrases
a video-LLM template is trained on) and is kept in `extras`, so it is versioned with it.
Rendering uses `StrictUndefined`, so a missing variable is an error rather than an empty hole
in a prompt; an unexpected variable is an error too, since it usually means the caller and
the template disagree about the prompt's version. Every artifact made with a template saves
`PromptTemplate.provenance()` — the exact text and version used — beside its results.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from jinja2 import Environment, StrictUndefined, TemplateError

from countllm.errors import CountLLMError

ROLES = ("system", "user", "assistant")
_KNOWN_KEYS = {"name", "version", "description", "variables", *ROLES}
_ENV = Environment(undefined=StrictUndefined, keep_trailing_newline=False, autoescape=False)


class PromptError(CountLLMError, ValueError):
    """A template that is missing, malformed, or rendered with the wrong variables."""


@dataclass(frozen=True)
class PromptTemplate:
    name: str
    version: int
    description: str
    variables: tuple[str, ...]
    roles: dict[str, str]  # role → Jinja source
    source: str  # the YAML file's text, saved with whatever the template produced
    extras: dict[str, Any] = field(default_factory=dict)  # other top-level keys: data the caller reads

    def render(self, **values: Any) -> list[dict[str, str]]:
        """Chat messages [{"role", "content"}] with `values` filled in."""
        missing = set(self.variables) - set(values)
        extra = set(values) - set(self.variables)
        if missing or extra:
            raise PromptError(f"prompt {self.name!r} v{self.version}: missing {sorted(missing)}, "
                              f"unexpected {sorted(extra)}; it takes {list(self.variables)}")
        try:
            return [{"role": role, "content": _ENV.from_string(text).render(**values).strip()}
                    for role, text in self.roles.items()]
        except TemplateError as exc:
            raise PromptError(f"prompt {self.name!r} v{self.version}: {exc}") from None

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.source.encode()).hexdigest()[:16]

    def provenance(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "sha256_16": self.digest, "source": self.source}


def prompts_dir() -> Path:
    """The installed `countllm.prompts` package folder (the repo's `prompts/`)."""
    return Path(str(resources.files("countllm.prompts")))


def available_prompts() -> list[str]:
    return sorted(p.stem for p in prompts_dir().glob("*.yaml"))


def parse_prompt(text: str, origin: str) -> PromptTemplate:
    """Validate one template file's text."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PromptError(f"{origin}: not valid YAML ({exc})") from None
    if not isinstance(data, dict) or not {"name", "version", "variables"} <= data.keys():
        raise PromptError(f"{origin}: needs the keys name, version, variables and at least one role")
    roles = {r: str(data[r]) for r in ROLES if r in data}
    if "user" not in roles:
        raise PromptError(f"{origin}: has no 'user' template")
    for role, source in roles.items():
        try:
            _ENV.parse(source)
        except TemplateError as exc:
            raise PromptError(f"{origin}: the {role} template does not parse ({exc})") from None
    return PromptTemplate(name=str(data["name"]), version=int(data["version"]),
                          description=str(data.get("description", "")),
                          variables=tuple(data["variables"] or ()), roles=roles, source=text,
                          extras={k: v for k, v in data.items() if k not in _KNOWN_KEYS})


def load_prompt(name: str) -> PromptTemplate:
    """Load `prompts/<name>.yaml`; PromptError names the accepted templates if it is absent."""
    path = prompts_dir() / f"{name}.yaml"
    if not path.is_file():
        raise PromptError(f"no prompt template {name!r}; available: {', '.join(available_prompts()) or 'none'}")
    template = parse_prompt(path.read_text(), str(path))
    if template.name != name:
        raise PromptError(f"{path}: declares name {template.name!r}, expected {name!r}")
    return template
