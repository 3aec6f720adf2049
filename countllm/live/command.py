"""`countllm live SOURCE`: print each repetition as it completes (JSON lines or a human line).

Exit codes follow the project's contract: 0 when the source ended normally, 3 when a camera
or stream was lost (the end event still carries the count so far), 130 on Ctrl-C (after the
end event), 2 for a source that cannot be opened or an unknown exercise (one line, nothing run).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from countllm.errors import EXIT_OK, EXIT_PARTIAL, InputError
from countllm.live.session import LiveOptions, LiveSession
from countllm.live.sources import SourceConfig


def _clock(seconds: float) -> str:
    minutes, rest = divmod(max(0.0, seconds), 60.0)
    return f"{int(minutes)}:{rest:04.1f}"


def human_line(event: dict[str, Any], source: str) -> str:
    """One line for a person watching the terminal."""
    what = event.get("exercise") or "repetition"
    if event["event"] == "rep":
        latency = "" if event["latency_s"] is None else f" (reported {event['latency_s']:.2f} s after it ended)"
        return f"{event['count']:>4}  {what} ended at {_clock(event['t_video_s'])}{latency}"
    if event["event"] == "lost":
        return f"lost the source at {_clock(event['t_video_s'])}: {event['error']}"
    latency = event["latency_s"]
    timing = ("" if latency["p50"] is None else
              f"; reported {latency['p50']:.2f} s (median), {latency['p95']:.2f} s (95th percentile) after each ended")
    offline = ("" if event["offline_count"] is None
               else f"; an offline count of the same frames gives {event['offline_count']}")
    lines = [f"{source}: {event['count']} {what}(s) counted live{timing}{offline}"]
    lines += [f"  note: {note}" for note in event["notes"]]
    return "\n".join(lines)


def exercise_prior(name: str | None):  # -> tuple[str | None, ActionPrior | None]
    """The display name and semantic prior `--exercise NAME` selects (InputError if unknown)."""
    if not name:
        return None, None
    from countllm import labels  # noqa: PLC0415
    from countllm.priors import default_priors_path, load_priors, match_action  # noqa: PLC0415

    priors = load_priors(default_priors_path())
    prior = match_action(name, priors)
    if prior is None:
        known = ", ".join(sorted(p.action for p in priors.values()))
        raise InputError("--exercise", f"{name!r} is not an exercise with a shipped prior (known: {known}); "
                         "leave --exercise out to count any repetition")
    label = labels.normalize(prior.action)
    return (labels.display_name(label) if label else prior.action), prior


def run_live(args: argparse.Namespace) -> int:
    exercise, prior = exercise_prior(args.exercise)
    options = LiveOptions(method=args.method, exercise=exercise, prior=prior,
                          source=SourceConfig(sample_fps=args.sample_fps, realtime=args.realtime))

    def emit(event: dict[str, Any]) -> None:
        print(json.dumps(event) if args.json else human_line(event, args.source), flush=True)

    session = LiveSession(args.source, options, emit)
    try:
        outcome = session.run()
    except KeyboardInterrupt:
        session.finish()
        print("countllm live: interrupted", file=sys.stderr)
        return 130
    return EXIT_PARTIAL if outcome.lost is not None else EXIT_OK
