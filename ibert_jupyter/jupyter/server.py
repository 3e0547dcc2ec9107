"""Jupyter server extension: mounts iBERT's REST routes under /ibert/.

Route modules each expose ``routes(base_url, server_app) -> list[(pattern, handler)]``.
Every handler derives from ``handlers_base.IbertHandler`` (Jupyter authorization on the
"ibert" resource, body limits, one error shape); the executors, limits and live requests
they share are one ``IbertServices`` in the tornado settings (``c.IbertServer.*`` configures it).
"""

from __future__ import annotations

import importlib

from jupyter_server.utils import url_path_join

ROUTE_MODULES: tuple[str, ...] = (
    "ibert_jupyter.jupyter.handlers_status",
    "ibert_jupyter.jupyter.handlers_model",
    "ibert_jupyter.jupyter.handlers_search",
    "ibert_jupyter.jupyter.handlers_chat",
    "ibert_jupyter.jupyter.handlers_complete",
)


def _load_jupyter_server_extension(server_app) -> None:
    from ibert_jupyter.jupyter.services import SERVICES_KEY, IbertServer, IbertServices

    web_app = server_app.web_app
    previous = web_app.settings.get(SERVICES_KEY)
    if previous is not None:  # loaded again in the same process (tests): free the old executors
        previous.shutdown()
    web_app.settings[SERVICES_KEY] = IbertServices(IbertServer(parent=server_app))
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
