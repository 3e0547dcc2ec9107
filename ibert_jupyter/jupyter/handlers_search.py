"""GET /ibert/search?q=...&k=5: ranked Ibis symbols for the sidebar chat (needs "read" on "ibert")."""

from __future__ import annotations

import tornado.web

from ibert_jupyter.jupyter.handlers_base import READ, BadRequest, IbertHandler, authorized

MAX_K = 50
MAX_QUERY_CHARS = 2000


class SearchHandler(IbertHandler):
    @tornado.web.authenticated
    @authorized(READ)
    async def get(self) -> None:
        query = (self.get_argument("q", "") or "").strip()
        if not query:
            raise BadRequest("missing query parameter q")
        if len(query) > MAX_QUERY_CHARS:
            raise BadRequest(f"q is {len(query)} characters; the limit is {MAX_QUERY_CHARS}")
        try:
            k = int(self.get_argument("k", "5"))
        except ValueError:
            raise BadRequest("k must be an integer") from None
        if not 1 <= k <= MAX_K:
            raise BadRequest(f"k must be between 1 and {MAX_K}")
        from ibert_jupyter import retrieval

        hits = await self.run_cpu(retrieval.search, query, k)  # IndexUnavailable -> 503 "run `ibert index`"
        self.finish_json({"query": query, "hits": [h.to_dict() for h in hits]})


def routes() -> list[tuple[str, type]]:
    from ibert_jupyter.jupyter.server import ibert_url

    return [(ibert_url("search"), SearchHandler)]
