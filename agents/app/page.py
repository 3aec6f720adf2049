"""The Gradio page of `countllm app` and its two API endpoints, `/count` and `/ask`.

Why two kinds of handler over one `AppService`: the API returns the JSON contracts as they are
(`/count`: the `countllm count --json` object; `/ask`: the `countllm ask --json` answer) and a
bad upload is a `gr.Error` carrying the one-line message, which `gradio_client` raises as
`AppError`; the page shows the same results drawn and tabled, and a bad upload as a message in
place of the count. Both read the same cached session, so counting on the page and then calling
`/count` (or asking) does the work once. All handlers share one concurrency group of one: the
work is CPU-bound and two cores are better spent on one video at a time.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import gradio as gr

from countllm.errors import CountLLMError

from . import render
from .service import AppService, display_name, error_message

WORK = "countllm-work"  # the concurrency group of every handler
INTRO = ("# countllm\n\nUpload a workout video or record one with the webcam: the page counts the repetitions, "
         "draws the cycles and lists sets and rests. Then ask about it (*how many squats after 0:10? when did I "
         "rest? was I slowing down?*). Everything runs on this machine.")
EXAMPLES = ["How many repetitions?", "When did I rest?", "Was I slowing down?", "How many after 0:10?"]


def _api_error(exc: CountLLMError, video: str | None) -> gr.Error:
    return gr.Error(error_message(exc, video), print_exception=False)


def api_count(service: AppService, video: str | None) -> dict[str, Any]:
    """`/count`: the `countllm count --json` object of the video."""
    try:
        return service.count(video)[1]
    except CountLLMError as exc:
        raise _api_error(exc, video) from None


def api_ask(service: AppService, video: str | None, question: str | None) -> dict[str, Any]:
    """`/ask`: the agent's answer about the video, as `countllm ask --json` prints it."""
    try:
        return service.ask(video, question)[1]
    except CountLLMError as exc:
        raise _api_error(exc, video) from None


def page_count(service: AppService, video: str | None) -> tuple[Any, ...]:
    """The page after an upload: headline, cycles plot, sets and rests, the JSON file and the JSON.
    A bad upload is a message in place of the headline, every other output emptied."""
    if not video:
        return "", None, "", None, None
    try:
        result, payload = service.count(video)
    except CountLLMError as exc:
        return render.error_markdown(error_message(exc, video)), None, "", None, None
    try:
        sets_answer, sets_error = service.sets(video), None
    except CountLLMError as exc:  # the count stands; only the split is missing
        sets_answer, sets_error = None, f"sets unavailable: {error_message(exc, video)}"
    return (render.count_markdown(result, display_name(video), payload["notes"]),
            str(service.count_plot(video, result)),
            render.sets_markdown(result, sets_answer, sets_error), str(service.write_json(video, payload, "count")),
            payload)


def page_ask(service: AppService, video: str | None, question: str | None) -> tuple[Any, ...]:
    """The page after a question: the answer, its plot, the JSON file and the JSON (or a message)."""
    try:
        answer, payload = service.ask(video, question)
    except CountLLMError as exc:
        return render.error_markdown(error_message(exc, video)), None, None, None
    return (render.answer_markdown(answer), str(service.answer_plot(video, answer)),
            str(service.write_json(video, payload, "answer")), payload)


def build_page(service: AppService) -> gr.Blocks:
    """The page; `service` does the work."""

    with gr.Blocks(title="countllm", analytics_enabled=False) as page:
        gr.Markdown(INTRO)
        with gr.Row():
            with gr.Column(scale=2):
                video = gr.Video(sources=["upload", "webcam"], label="Workout video", elem_id="video")
            with gr.Column(scale=3):
                summary = gr.Markdown(elem_id="count-summary")
                sets = gr.Markdown(elem_id="sets")
        plot = gr.Image(label="Cycles", type="filepath", interactive=False, elem_id="count-plot")
        count_download = gr.File(label="Download the count (JSON)", interactive=False, elem_id="count-download")
        with gr.Row():
            question = gr.Textbox(label="Ask about this video", placeholder=EXAMPLES[0], scale=4, elem_id="question")
            ask_button = gr.Button("Ask", variant="primary", scale=1, elem_id="ask-button")
        gr.Examples([[q] for q in EXAMPLES], inputs=[question], label="Questions to try")
        answer = gr.Markdown(elem_id="answer")
        answer_plot = gr.Image(label="The answer on the signal", type="filepath", interactive=False,
                               elem_id="answer-plot")
        answer_download = gr.File(label="Download the answer (JSON)", interactive=False, elem_id="answer-download")
        with gr.Accordion("JSON", open=False):
            count_json = gr.JSON(label="count (the countllm count --json object)", elem_id="count-json")
            answer_json = gr.JSON(label="answer (the countllm ask --json object)", elem_id="answer-json")

        page_outputs = [summary, plot, sets, count_download, count_json]
        video.change(partial(page_count, service), [video], page_outputs, api_visibility="private", concurrency_id=WORK)
        for trigger in (ask_button.click, question.submit):
            trigger(partial(page_ask, service), [video, question], [answer, answer_plot, answer_download, answer_json],
                    api_visibility="private", concurrency_id=WORK)

        # The API: hidden triggers, so the endpoints' names and signatures are the contract alone.
        api_count_trigger = gr.Button(visible=False)
        api_count_trigger.click(partial(api_count, service), [video], [count_json], api_name="count",
                                concurrency_id=WORK, api_description="video -> the `countllm count --json` object")
        api_ask_trigger = gr.Button(visible=False)
        api_ask_trigger.click(partial(api_ask, service), [video, question], [answer_json], api_name="ask",
                              concurrency_id=WORK,
                              api_description="video, question -> the agent's answer (`countllm ask --json`)")
    return page
