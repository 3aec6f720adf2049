"""Length-normalised log-likelihood of candidate continuations of a prompt (choice scoring).

Why here and not in `generate`: to rank 80 candidate answers a causal LM needs one forward pass
over the prompt and one over the candidates. The prompt is encoded once; the candidates are then
*packed* into one sequence after it, with a block attention mask (each candidate sees the prompt
and its own earlier tokens, never another candidate) and positions that restart after the
prompt for each candidate. So the prompt's key/value cache is used once, not copied per
candidate — copying it was the dominant cost on a CPU. A candidate's score is the mean
log-probability of its tokens (length normalised, so a long name is not penalised for having
more tokens).

`PrefixCache` keeps the key/values of the previous prompt: mining asks many questions that share
a long beginning (the same list of actions, then a different action), and the prompt is most of
the remaining cost. Reuse is exact — a causal LM's cache for a token prefix does not depend on
what follows it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CHUNK_TOKENS = 512  # candidate tokens per packed forward pass (bounds the (T, P + T) mask)
MIN_REUSE = 8  # tokens a prompt must share with the previous one before its cache is reused


@dataclass
class PrefixCache:
    """The token ids of the last scored prompt and its key/value cache (exactly those tokens)."""

    ids: list[int] = field(default_factory=list)
    cache: Any = None
    reused_tokens: int = 0  # statistics: prompt tokens not recomputed thanks to this
    computed_tokens: int = 0


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def _crop(cache: Any, keep: int) -> None:
    """Keep the first `keep` tokens of a `DynamicCache` (views, no copy). A negative argument
    means "drop that many" in every transformers version; a positive one does not."""
    drop = cache.get_seq_length() - keep
    if drop > 0:
        cache.crop(-drop)


def encode_prompt(model: Any, prompt_ids: Any, memo: PrefixCache) -> tuple[Any, Any]:
    """(log p of the next token (V,), a cache of exactly the prompt), reusing `memo`'s prefix."""
    import torch  # noqa: PLC0415

    ids = prompt_ids[0].tolist()
    shared = min(_common_prefix(ids, memo.ids), len(ids) - 1)  # at least one token must run
    start, cache = 0, None
    if memo.cache is not None and shared >= MIN_REUSE:
        start, cache = shared, memo.cache
        _crop(cache, shared)
    out = model(input_ids=prompt_ids[:, start:], past_key_values=cache, use_cache=True)
    memo.ids, memo.cache = ids, out.past_key_values
    memo.reused_tokens += start
    memo.computed_tokens += len(ids) - start
    return torch.log_softmax(out.logits[0, -1].float(), dim=-1), out.past_key_values


def score_continuations(model: Any, prompt_ids: Any, choice_ids: list[list[int]],
                        memo: PrefixCache | None = None, chunk_tokens: int = CHUNK_TOKENS) -> list[float]:
    """Mean per-token log p(choice | prompt) for each token list in `choice_ids`.

    Args:
        model: a Hugging Face causal LM (eval mode) whose forward returns a `DynamicCache` and
            accepts a 4D float attention mask (LLaMA-family models do).
        prompt_ids: (1, P) token ids of the prompt, already on the model's device.
        choice_ids: one non-empty token list per candidate.
        memo: the previous prompt's cache, reused for the prefix this prompt shares with it;
            left holding this prompt's cache.
        chunk_tokens: candidate tokens per packed forward.
    """
    import torch  # noqa: PLC0415

    if any(not ids for ids in choice_ids):
        raise ValueError("every choice needs at least one token")
    memo = memo if memo is not None else PrefixCache()
    with torch.inference_mode():
        first, cache = encode_prompt(model, prompt_ids, memo)  # (V,), cache of P tokens
        scores: list[float] = []
        for batch in _chunks(choice_ids, chunk_tokens):
            scores += _score_packed(model, cache, prompt_ids.shape[1], first, batch)
            _crop(cache, prompt_ids.shape[1])  # back to the prompt, for the next chunk and prompt
    return scores


def _chunks(choice_ids: list[list[int]], budget: int) -> list[list[list[int]]]:
    """Consecutive groups of candidates with at most `budget` tokens each (one may exceed it alone)."""
    groups: list[list[list[int]]] = [[]]
    used = 0
    for ids in choice_ids:
        if groups[-1] and used + len(ids) > budget:
            groups.append([])
            used = 0
        groups[-1].append(ids)
        used += len(ids)
    return groups


def _score_packed(model: Any, cache: Any, prompt_len: int, first: Any, batch: list[list[int]]) -> list[float]:
    """Scores of one group of candidates, packed into one sequence after the cached prompt."""
    import torch  # noqa: PLC0415

    device, dtype = first.device, model.dtype
    lengths = [len(ids) for ids in batch]
    total = sum(lengths)
    owner = torch.repeat_interleave(torch.arange(len(batch), device=device), torch.tensor(lengths, device=device))
    offset = torch.cat([torch.arange(n, device=device) for n in lengths])  # (T,) position within its candidate
    ids = torch.tensor([t for c in batch for t in c], device=device)[None]  # (1, T)
    own = (owner[:, None] == owner[None, :]) & (offset[None, :] <= offset[:, None])  # (T, T): causal, same candidate
    allowed = torch.cat([torch.ones((total, prompt_len), dtype=torch.bool, device=device), own], dim=1)
    mask = torch.zeros(allowed.shape, dtype=dtype, device=device).masked_fill(~allowed, torch.finfo(dtype).min)
    logits = model(input_ids=ids, attention_mask=mask[None, None], position_ids=(prompt_len + offset)[None],
                   past_key_values=cache, use_cache=True).logits[0]  # (T, V): token t predicts t+1
    logp = torch.log_softmax(logits.float(), dim=-1)
    scores = []
    start = 0
    for n in lengths:
        tokens = ids[0, start:start + n]
        total_lp = first[tokens[0]] + logp[start:start + n - 1].gather(1, tokens[1:, None]).sum()
        scores.append(float(total_lp) / n)
        start += n
    return scores


def truncate_choices(choice_ids: list[list[int]], max_tokens: int | None) -> list[list[int]]:
    """Each option's first `max_tokens` tokens; options that would then coincide keep all of theirs.

    Why: options copied from a list in the prompt are nearly certain after their first few
    tokens, so the rest adds compute but barely any information.
    """
    if max_tokens is None:
        return choice_ids
    cut = [ids[:max_tokens] for ids in choice_ids]
    seen: dict[tuple[int, ...], int] = {}
    for ids in cut:
        seen[tuple(ids)] = seen.get(tuple(ids), 0) + 1
    return [c if seen[tuple(c)] == 1 else full for c, full in zip(cut, choice_ids)]
