"""GET /ibert/status: version, model status and index status (needs "read" on "ibert")."""

from __future__ import annotations

import asyncio

import tornado.web

from ibert_jupyter.jupyter.handlers_base import READ, IbertHandler, authorized
from ibert_jupyter.status import collect_status


class StatusHandler(IbertHandler):
    @tornado.web.authenticated
    @authorized(READ)
    async def get(self) -> None:
        # the loop's default executor: file reads here must not wait behind verification work
        self.finish_json(await asyncio.get_running_loop().run_in_executor(None, collect_status))


def routes(base_url: str, server_app) -> list[tuple[str, type]]:
    from ibert_jupyter.jupyter.server import ibert_url

    return [(ibert_url(base_url, "status"), StatusHandler)]
