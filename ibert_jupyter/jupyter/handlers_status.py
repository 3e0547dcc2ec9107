"""GET /ibert/status: version, model status and index status (authenticated)."""

from __future__ import annotations

import json

import tornado.web
from jupyter_server.base.handlers import APIHandler

from ibert_jupyter.status import collect_status


class StatusHandler(APIHandler):
    @tornado.web.authenticated
    def get(self) -> None:
        self.finish(json.dumps(collect_status()))


def routes(base_url: str, server_app) -> list[tuple[str, type]]:
    from ibert_jupyter.jupyter.server import ibert_url

    return [(ibert_url(base_url, "status"), StatusHandler)]
