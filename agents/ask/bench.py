"""Agent latency: `python -m countllm.agents.ask.bench [--video V] [--seconds 60]`.

Prints, on one clip (default: a rendered 60 s synthetic squat video), in this order:
- the baseline: one `count_file` with the auto policy, the work any answer must do at least;
- the first question of a fresh `AgentSession` (decode, pose, counters, recognizer);
- follow-up questions on that session (goal: under 1 s each on 2 cores);
- the same through `countllm serve` (agent only) with the `openai` client: first and follow-up.
Each line gives wall seconds and the ratio to the baseline measured in the same run, so the
figures mean something on any machine.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

FOLLOW_UPS = ("how many squats after the first 20 seconds?", "when did I rest?", "was I slowing down?",
              "how long was each rep?", "what exercise is this?")


def timed(call: Callable[[], object]) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = call()
    return time.perf_counter() - t0, out


def clip(video: Path | None, seconds: float, folder: Path) -> tuple[Path, str]:
    if video is not None:
        return video, video.name
    from countllm.synthetic import RenderConfig, SyntheticConfig, make_sequence, render_sequence  # noqa: PLC0415

    n_reps = max(2, int((seconds - 8) / 2.4))
    seq = make_sequence(SyntheticConfig(exercise="squat", n_reps=n_reps, rests=[(n_reps // 2, 5.0)], seed=7))
    path = render_sequence(seq, folder / f"squats_{seconds:g}s.mp4", RenderConfig())
    return path, f"rendered synthetic squats, {seq.duration_s:.0f} s, {seq.count} reps"


def run(video: Path | None, seconds: float) -> str:
    from countllm.agents.ask import AgentSession  # noqa: PLC0415
    from countllm.agents.ask.planner_rules import RulesPlanner  # noqa: PLC0415
    from countllm.pipeline import count_file  # noqa: PLC0415

    lines = []
    with tempfile.TemporaryDirectory(prefix="countllm-agent-bench-") as tmp:
        path, what = clip(video, seconds, Path(tmp))
        lines.append(f"clip: {what}")
        base, result = timed(lambda: count_file(path))
        lines.append(f"baseline count_file(auto): {base:6.2f} s  (count {result.count})")
        session = AgentSession.open(path, planner=RulesPlanner(chooser=None))
        first, answer = timed(lambda: session.ask("how many squats?"))
        lines.append(f"agent, first question:     {first:6.2f} s  ({first / base:.2f}× baseline) → {answer.answer}")
        for q in FOLLOW_UPS:
            t, a = timed(lambda q=q: session.ask(q))
            lines.append(f"agent, follow-up:          {t:6.3f} s  ({t / base:.3f}×)  {q!r} → {a.answer[:70]}")
        lines += _through_serve(path, base)
    return "\n".join(lines)


def _through_serve(path: Path, base: float) -> list[str]:
    """The first question and a follow-up through `countllm serve`'s agent route."""
    import openai  # noqa: PLC0415

    from countllm.agents.serve import start_background_server  # noqa: PLC0415
    from countllm.agents.serve_agent import default_agent_factory  # noqa: PLC0415

    lines = []
    with start_background_server(None, agent=default_agent_factory(), media_roots=[path.parent]) as served:
        client = openai.OpenAI(base_url=served.url, api_key="unused", timeout=600)

        def ask(question: str) -> str:
            reply = client.chat.completions.create(model="countllm-agent", messages=[{"role": "user", "content": [
                {"type": "text", "text": question},
                {"type": "video_url", "video_url": {"url": path.resolve().as_uri()}}]}])
            return reply.choices[0].message.content or ""

        t, text = timed(lambda: ask("how many squats?"))
        lines.append(f"serve, first question:     {t:6.2f} s  ({t / base:.2f}× baseline) → {text[:70]}")
        t, text = timed(lambda: ask("when did I rest?"))
        lines.append(f"serve, follow-up:          {t:6.3f} s  ({t / base:.3f}×) → {text[:70]}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m countllm.agents.ask.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--video", type=Path, help="clip to time (default: a rendered synthetic squat video)")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the synthetic clip")
    args = parser.parse_args(argv)
    print(run(args.video, args.seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
