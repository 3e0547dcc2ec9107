"""GET /ibert/status: version, model status and index status (needs "read" on "ibert").

Server paths in it are shown whole only to users who may also "execute" (configure the model).
"""

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
        await self.finish_status(await asyncio.get_running_loop().run_in_executor(None, collect_status))


def routes() -> list[tuple[str, type]]:
    from ibert_jupyter.jupyter.server import ibert_url

    return [(ibert_url("status"), StatusHandler)]
