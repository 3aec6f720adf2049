"""Choice scoring: the local backend ranks given answers by likelihood (no unparseable answers).

Checked against a brute-force forward pass of prompt + option on the tiny random LLaMA of
test_llm_backends, so the packed batch, the prefix cache and truncation must all be exact.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

pytest.importorskip("transformers")

import torch  # noqa: E402

from countllm.agents.batch import BatchConfig, BatchItem, BatchRunner, ResponseCache, cache_key  # noqa: E402
from countllm.agents.batch_api import export_batch_jsonl  # noqa: E402
from countllm.agents.llm.base import ChatMessage, Choices, GenerationConfig, supports_choices  # noqa: E402
from countllm.agents.llm.local_backend import TransformersBackend  # noqa: E402
from countllm.agents.llm.openai_backend import OpenAIBackend  # noqa: E402
from countllm.agents.llm.scoring import PrefixCache, score_continuations, truncate_choices  # noqa: E402
from countllm.agents.llm.structured import parse_scores, scores_text  # noqa: E402
from tests.test_llm_backends import USER, build_tiny_chat_model  # noqa: E402

OPTIONS = ("Paris", "France is", "squats", "five repetitions", "JSON", "a", "Count the squats in the video")


@pytest.fixture(scope="module")
def backend(tmp_path_factory) -> TransformersBackend:
    return TransformersBackend(build_tiny_chat_model(tmp_path_factory.mktemp("llm") / "tiny-llama"))


def brute_force(backend: TransformersBackend, messages: list[ChatMessage], option: str, prefix: str = "",
                max_tokens: int | None = None) -> float:
    """Mean log p of the option's tokens from one plain forward pass over prompt + option."""
    prompt = backend._encode(messages, prefix=prefix)
    ids = backend._tokenizer(option, add_special_tokens=False)["input_ids"][:max_tokens]
    full = torch.cat([prompt, torch.tensor([ids])], dim=1)
    with torch.no_grad():
        logp = torch.log_softmax(backend._model(full).logits[0].float(), dim=-1)
    start = prompt.shape[1]
    return sum(logp[start - 1 + k, t].item() for k, t in enumerate(ids)) / len(ids)


@pytest.mark.parametrize("prefix", ["", '["'])
def test_scores_equal_a_brute_force_forward_pass(backend: TransformersBackend, prefix: str) -> None:
    scores = backend.score_choices(USER, Choices(OPTIONS, prefix))
    expected = [brute_force(backend, USER, o, prefix) for o in OPTIONS]
    assert scores == pytest.approx(expected, abs=1e-4)
    assert all(s < 0 for s in scores) and len(set(scores)) == len(scores)


def test_chunked_packing_and_prefix_reuse_are_exact(backend: TransformersBackend) -> None:
    backend.load()
    model, tok = backend._model, backend._tokenizer
    option_ids = [tok(o, add_special_tokens=False)["input_ids"] for o in OPTIONS]
    first = backend._encode(USER)
    reference = score_continuations(model, first, option_ids)
    memo = PrefixCache()
    scores = score_continuations(model, first, option_ids, memo=memo, chunk_tokens=3)
    assert scores == pytest.approx(reference, abs=1e-5)
    # a second prompt sharing the first one's beginning: only its new tokens are computed
    other = [ChatMessage("user", "What is the capital of France? Answer in JSON.")]
    second = backend._encode(other)
    fresh = score_continuations(model, second, option_ids)
    reused = score_continuations(model, second, option_ids, memo=memo)
    assert reused == pytest.approx(fresh, abs=1e-5)
    assert memo.reused_tokens > 8 and memo.computed_tokens < first.shape[1] + second.shape[1]


def test_truncated_options_score_their_first_tokens(backend: TransformersBackend) -> None:
    scores = backend.score_choices(USER, Choices(OPTIONS, max_tokens=2))
    assert scores == pytest.approx([brute_force(backend, USER, o, max_tokens=2) for o in OPTIONS], abs=1e-4)
    # options that coincide once cut keep all their tokens, so distinct options stay distinct
    assert truncate_choices([[1, 2, 3], [1, 2, 4], [5, 6, 7]], 2) == [[1, 2, 3], [1, 2, 4], [5, 6]]
    assert truncate_choices([[1, 2, 3]], None) == [[1, 2, 3]]


def test_eighty_options_are_scored_in_one_pass_quickly(backend: TransformersBackend) -> None:
    options = tuple(f"action number {i}" for i in range(80))
    backend.score_choices(USER, Choices(options[:2]))  # load
    scores = backend.score_choices(USER, Choices(options))
    assert len(scores) == 80 and all(math.isfinite(s) for s in scores)


def test_choices_validation_and_capability() -> None:
    with pytest.raises(ValueError, match="at least one option"):
        Choices(())
    with pytest.raises(ValueError, match="twice"):
        Choices(("a", "a"))
    with pytest.raises(ValueError, match="max_tokens"):
        Choices(("a",), max_tokens=0)
    assert supports_choices(TransformersBackend("/nowhere"))  # a capability of the class: nothing loads
    assert not supports_choices(OpenAIBackend("m", base_url="http://127.0.0.1:9/v1"))


def test_scored_answers_round_trip_as_json_text() -> None:
    text = scores_text(("a", "b"), [-1.5, -0.25])
    assert parse_scores(text, ("a", "b")) == {"a": -1.5, "b": -0.25} and json.loads(text)["options"] == ["a", "b"]
    for bad, words in [('["a"]', "not a scored"), (scores_text(("a", "c"), [0, 0]), "other options"),
                       ('{"format": "choice-scoring/1", "options": ["a", "b"], "scores": ["x", 1]}', "numbers")]:
        with pytest.raises(ValueError, match=words):
            parse_scores(bad, ("a", "b"))


# --- through the batch runner -------------------------------------------------------------------

def test_scored_items_are_cached_under_their_own_key(backend: TransformersBackend, tmp_path: Path) -> None:
    choices = Choices(("Paris", "squats"), '["')
    scored, generated = BatchItem("s", USER, choices=choices), BatchItem("g", USER, GenerationConfig(max_tokens=4))
    assert scored.decoding == "choice-scoring" and generated.decoding == "free-generation"
    keys = {cache_key("m", USER, GenerationConfig()), cache_key("m", USER, GenerationConfig(), choices),
            cache_key("m", USER, GenerationConfig(), Choices(("squats", "Paris"), '["')),
            cache_key("m", USER, GenerationConfig(), Choices(("Paris", "squats")))}
    assert len(keys) == 4  # mode, options, their order and the prefix all change the key
    config = BatchConfig(progress=False, backoff_s=0.0)
    with ResponseCache(tmp_path / "c.sqlite") as cache:
        first = BatchRunner(backend, cache, config).run([scored, generated])
        again = BatchRunner(backend, cache, config).run([scored, generated])
        with pytest.raises(ValueError, match="Batch API"):
            export_batch_jsonl([scored], tmp_path / "batch.jsonl", "m")
    assert first.calls_made == 2 and again.calls_made == 0 and again.cache_hits == 2
    assert parse_scores(again.outcomes["s"].text, choices.options) == pytest.approx(
        dict(zip(choices.options, backend.score_choices(USER, choices))), abs=1e-5)
    assert again.outcomes["g"].text == first.outcomes["g"].text


def test_a_backend_that_cannot_score_is_refused_before_any_call(tmp_path: Path) -> None:
    remote = OpenAIBackend("m", base_url="http://127.0.0.1:9/v1")
    with ResponseCache(tmp_path / "c.sqlite") as cache:
        with pytest.raises(ValueError, match="cannot score choices"):
            BatchRunner(remote, cache, BatchConfig(progress=False)).run([BatchItem("s", USER, choices=Choices(("a",)))])
