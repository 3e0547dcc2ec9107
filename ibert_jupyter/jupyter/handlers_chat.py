"""POST /ibert/chat: the sidebar's chat turn (authenticated); a thin adapter over ibert_jupyter.chat.

Body: {"question": str, "snapshot": <kernel schema snapshot> | null}. Bad bodies get 400 with
{"error": "..."}; the answer itself (possibly "model_unavailable") comes back with 200.
Model and search can be swapped through the tornado settings ``ibert_chat_model_provider``
and ``ibert_chat_search`` (zero-arg / (query, k) callables), e.g. to serve a remote model.
"""

from __future__ import annotations

import json

import tornado.web
from jupyter_server.base.handlers import APIHandler
from tornado.ioloop import IOLoop

from ibert_jupyter.chat import ChatRequestError, answer, parse_chat_request


class ChatHandler(APIHandler):
    def _error(self, code: int, message: str) -> None:
        self.set_status(code)
        self.finish(json.dumps({"error": message}))

    @tornado.web.authenticated
    async def post(self) -> None:
        try:
            request = parse_chat_request(self.request.body)
        except ChatRequestError as exc:
            return self._error(400, str(exc))
        provider = self.settings.get("ibert_chat_model_provider")
        search = self.settings.get("ibert_chat_search")
        try:
            result = await IOLoop.current().run_in_executor(
                None, lambda: answer(request.question, request.snapshot, provider, search)
            )
        except Exception as exc:  # noqa: BLE001 - the sidebar must get a readable error
            self.log.exception("iBERT chat failed")
            return self._error(500, f"chat failed: {type(exc).__name__}: {exc}")
        self.finish(json.dumps(result.to_dict()))


def routes(base_url: str, server_app) -> list[tuple[str, type]]:
    from ibert_jupyter.jupyter.server import ibert_url

    return [(ibert_url(base_url, "chat"), ChatHandler)]
