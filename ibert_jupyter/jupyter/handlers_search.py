"""GET /ibert/search?q=...&k=5: ranked Ibis symbols for the sidebar chat (authenticated)."""

from __future__ import annotations

import json

import tornado.ioloop
import tornado.web
from jupyter_server.base.handlers import APIHandler

from ibert_jupyter.retrieval.errors import IndexUnavailable

MAX_K = 50


class SearchHandler(APIHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        query = (self.get_argument("q", "") or "").strip()
        if not query:
            raise tornado.web.HTTPError(400, reason="missing query parameter q")
        try:
            k = int(self.get_argument("k", "5"))
        except ValueError:
            raise tornado.web.HTTPError(400, reason="k must be an integer") from None
        if not 1 <= k <= MAX_K:
            raise tornado.web.HTTPError(400, reason=f"k must be between 1 and {MAX_K}")
        from ibert_jupyter import retrieval

        try:
            hits = await tornado.ioloop.IOLoop.current().run_in_executor(None, retrieval.search, query, k)
        except IndexUnavailable as exc:
            self.set_status(503)
            self.finish(json.dumps({"error": str(exc), "hint": "run `ibert index`"}))
            return
        self.finish(json.dumps({"query": query, "hits": [h.to_dict() for h in hits]}))


def routes(base_url: str, server_app) -> list[tuple[str, type]]:
    from ibert_jupyter.jupyter.server import ibert_url

    return [(ibert_url(base_url, "search"), SearchHandler)]
