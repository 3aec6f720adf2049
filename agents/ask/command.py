"""`countllm ask INPUT [QUESTION]`: one answer, or an interactive prompt about one video.

The planner follows the LLM options `countllm mine` has: `--backend local` (the default) is the
offline planner (rules, with the local SmolLM2 choosing an intent no rule reads; `--rules-only`
never loads it); `--backend openai` is the langchain tool-calling agent over any
OpenAI-compatible chat server, with `--base-url`, `--api-key`, `--model` or their environment
variables (COUNTLLM_LLM_BASE_URL, COUNTLLM_LLM_API_KEY, COUNTLLM_LLM_MODEL).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from countllm.errors import EXIT_OK, InputError
from countllm.media import DecodeOptions

from .answer import AgentAnswer
from .planner_rules import IntentChooser, RulesPlanner
from .session import AgentSession, Planner

PROMPT = "question> "


def add_ask_arguments(p: argparse.ArgumentParser) -> None:
    """The `ask` flags (the LLM connection flags are added by the CLI, shared with `mine`)."""
    p.add_argument("input", help="video file or pose file")
    p.add_argument("question", nargs="?", help='e.g. "how many squats after the first minute?" '
                   "(omit it for an interactive prompt on this video)")
    p.add_argument("--json", action="store_true", help="print the answer as JSON (the schema in docs/design.md §9)")
    p.add_argument("--plot", type=Path, help="write a PNG of the signal with the counted cycles, rests and sets")
    p.add_argument("--fps", type=float, help="frame rate of a pose file's rows (default 30), or an override "
                   "for a video whose container rate is wrong")
    p.add_argument("--pose-format", choices=("mediapipe33", "h36m17"), help="layout of a pose file")
    p.add_argument("--rules-only", action="store_true",
                   help="offline planner without the local language model (questions no rule reads are unsupported)")


def make_planner(args: argparse.Namespace) -> Planner:
    """The planner the LLM options name (see the module doc)."""
    if args.backend == "openai":
        from .planner_langchain import LangchainPlanner  # noqa: PLC0415 — langchain on demand

        return LangchainPlanner.from_options(model=args.model, base_url=args.base_url, api_key=args.api_key,
                                             timeout_s=args.timeout)
    if args.base_url or args.api_key:
        raise InputError("options", "--base-url/--api-key apply to --backend openai (the langchain agent); "
                         "the offline planner needs neither")
    if args.rules_only:
        return RulesPlanner(chooser=None)
    backend = None
    if args.model:
        from countllm.agents.llm.local_backend import TransformersBackend  # noqa: PLC0415

        backend = TransformersBackend(args.model, num_threads=1)
    return RulesPlanner(chooser=IntentChooser(backend))


def run_ask(args: argparse.Namespace) -> int:
    try:
        options = DecodeOptions(fps=args.fps, pose_format=args.pose_format)
    except ValueError as exc:
        raise InputError("options", str(exc)) from None
    session = AgentSession.open(args.input, options, planner=make_planner(args))
    if args.question:
        _print(session.ask(args.question), session, args)
        return EXIT_OK
    return _interactive(session, args)


def _interactive(session: AgentSession, args: argparse.Namespace) -> int:
    """Answer questions from stdin until an empty line, "quit" or end of input."""
    from countllm.errors import CountLLMError  # noqa: PLC0415

    interactive = sys.stdin.isatty()
    if interactive:
        print(f"Ask about {args.input} (empty line or Ctrl-D to stop).")
    while True:
        try:
            line = input(PROMPT if interactive else "")
        except EOFError:
            break
        if not line.strip() or line.strip().lower() in ("quit", "exit", "q"):
            break
        try:
            _print(session.ask(line), session, args)
        except CountLLMError as exc:  # one bad question does not end the conversation
            print(f"countllm ask: error: {exc.one_line()}", file=sys.stderr)
    return EXIT_OK


def _print(answer: AgentAnswer, session: AgentSession, args: argparse.Namespace) -> None:
    if args.plot:
        from .plot import plot_answer  # noqa: PLC0415

        try:
            plot_answer(answer, session.tools.signal_result(), args.plot)
        except OSError as exc:
            raise InputError(str(args.plot), f"cannot write the plot ({exc.strerror or exc})") from None
    if args.json:
        print(answer.model_dump_json())
        return
    print(answer.answer)
    if answer.confidence is not None:
        print(f"  confidence: {answer.confidence:.2f} (probability the count is within ±1)")
    for call in answer.tools:
        agreed = "" if call.agreed is None else ("  [agrees]" if call.agreed else "  [disagrees]")
        args_text = ", ".join(f"{k}={v}" for k, v in call.args.items())
        print(f"  tool {call.name}({args_text}): {call.result}{agreed}")
    for note in answer.notes:
        print(f"  note: {note}")
    print(f"  planner: {answer.planner}")
    if args.plot:
        print(f"  plot: {args.plot}")
