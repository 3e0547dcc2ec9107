"""Jupyter server extension: mounts iBERT's authenticated REST routes under /ibert/.

Route modules each expose ``routes(base_url) -> list[(pattern, handler)]``; the model and
chat handlers add themselves to ROUTE_MODULES.
"""

from __future__ import annotations

import importlib

from jupyter_server.utils import url_path_join

ROUTE_MODULES: tuple[str, ...] = (
    "ibert_jupyter.jupyter.handlers_status",
    "ibert_jupyter.jupyter.handlers_model",
    "ibert_jupyter.jupyter.handlers_search",
    "ibert_jupyter.jupyter.handlers_chat",
)


def _load_jupyter_server_extension(server_app) -> None:
    web_app = server_app.web_app
    base_url = web_app.settings["base_url"]
    handlers = []
    for module in ROUTE_MODULES:
        handlers.extend(importlib.import_module(module).routes(base_url, server_app))
    web_app.add_handlers(".*$", handlers)
    server_app.log.info("iBERT server extension loaded: %d routes", len(handlers))


# jupyter-server looks for this name too (older spelling)
load_jupyter_server_extension = _load_jupyter_server_extension


def ibert_url(base_url: str, *parts: str) -> str:
    return url_path_join(base_url, "ibert", *parts)
