"""`countllm app`: a web page (Gradio) to count a workout video and ask the agent about it.

Installed as `countllm.agents.app`; Gradio is the `app` extra (`pip install 'countllm[app]'`,
or `bash scripts/setup.sh`). Nothing here imports Gradio until the page is built, so the CLI can
say in one line how to install it. `/count` and `/ask` are the page's API for `gradio_client`
(see `page.py`); the work is done by `service.AppService`.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from countllm.errors import CountLLMError, InputError

INSTALL_HINT = "the web page needs Gradio: pip install -c constraints.txt 'countllm[app]' (or bash scripts/setup.sh)"
# Gradio and the Hub client it imports must not phone home: no analytics, no version check, no telemetry.
QUIET_ENV = {"GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_OFFLINE": "1",
             "DO_NOT_TRACK": "1"}


def require_gradio() -> None:
    """Import Gradio (quietened first); CountLLMError with the install hint when it is not installed."""
    quiet_gradio()
    try:
        import gradio  # noqa: F401, PLC0415 — the extra is optional
    except ImportError:
        raise CountLLMError("gradio", INSTALL_HINT) from None


def quiet_gradio() -> None:
    """Switch Gradio's network calls off before it is imported (set only where the user has not)."""
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)


def serve(host: str = "127.0.0.1", port: int = 7860, workdir: Path | None = None) -> None:
    """Build the page and serve it until interrupted (blocks)."""
    if not 0 < port < 65536:
        raise InputError("--port", f"must be a port number 1-65535, got {port}")
    require_gradio()
    from .page import build_page  # noqa: PLC0415 — gradio on demand
    from .service import AppService  # noqa: PLC0415

    workdir = Path(workdir or tempfile.mkdtemp(prefix="countllm-app-"))
    page = build_page(AppService(workdir))
    page.queue(default_concurrency_limit=1)
    try:
        page.launch(server_name=host, server_port=port, share=False, allowed_paths=[str(workdir)],
                    footer_links=["api"], ssr_mode=False, pwa=False, mcp_server=False, show_error=False)
    except OSError as exc:  # the port is taken, or the host is not this machine's
        why = (f"port {port} is in use; pick another with --port" if "Cannot find empty port" in str(exc)
               else f"{exc}; check --host and --port")
        raise InputError(f"{host}:{port}", f"cannot serve the page there: {why}") from None


__all__ = ["INSTALL_HINT", "require_gradio", "serve"]
