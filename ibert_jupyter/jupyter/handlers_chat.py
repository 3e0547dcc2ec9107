"""POST /ibert/chat and /ibert/chat/cancel: the sidebar's chat turn; adapters over ibert_jupyter.chat.

Body: {"question": str, "snapshot": <kernel schema snapshot> | null, "stream"?: bool, "id"?: str}.
Without "stream" the answer object comes back as JSON (200, possibly "model_unavailable").
With "stream": true the reply is NDJSON (contract B): start, status, token..., answer | error,
done. Retrieval and verification run on the CPU pool, the model on its one-thread queue;
a closed connection or POST /ibert/chat/cancel {"id"} stops the decoding.
The model and search can be swapped through the tornado settings ``ibert_chat_model_provider``
and ``ibert_chat_search`` (zero-arg / (query, k) callables), e.g. to serve a remote model.
"""

from __future__ import annotations

from typing import Callable

import tornado.web

from ibert_jupyter.chat import ChatAnswer, chat_request_from_fields, finish, prepare, reply, unavailable
from ibert_jupyter.chat.request import REQUEST_ID
from ibert_jupyter.chat.segments import split_segments
from ibert_jupyter.jupyter.handlers_base import (
    EXECUTE,
    BadRequest,
    IbertHandler,
    authorized,
    parse_json_object,
    redact_paths,
)
from ibert_jupyter.jupyter.handlers_stream import EventStream
from ibert_jupyter.model.cancel import CancelToken
from ibert_jupyter.model.errors import ModelUnavailable

Emit = Callable[[dict], None]


class RequestScoped(IbertHandler):
    """A route whose work can be cancelled by id or by the client hanging up."""

    _token: CancelToken | None = None

    def on_connection_close(self) -> None:
        if self._token is not None:
            self._token.cancel()
        super().on_connection_close()


class ChatHandler(RequestScoped):
    body_limit_kind = "snapshot"

    @tornado.web.authenticated
    @authorized(EXECUTE)
    async def post(self) -> None:
        parsed = await self.snapshot_body(("question",))
        request = chat_request_from_fields(parsed.fields, parsed)
        request_id, self._token = self.services.requests.open(request.id)
        try:
            if request.stream:
                await self._stream(request, request_id, self._token)
            else:
                result = await self._answer(request, self._token, lambda event: None)
                self.finish_json(result.to_dict())
        finally:
            self.services.requests.close(request_id)

    async def _answer(self, request, token: CancelToken, emit: Emit) -> ChatAnswer:
        provider = self.settings.get("ibert_chat_model_provider")
        search = self.settings.get("ibert_chat_search")
        emit({"type": "status", "text": "searching the Ibis API"})
        context = await self.run_cpu(
            lambda: prepare(request.question, request.snapshot, search, notices=[request.notice] if request.notice else []))
        token.raise_if_cancelled()
        ahead = self.services.gpu.pending
        emit({"type": "status", "text": f"waiting for the model ({ahead} ahead)" if ahead else "writing the answer"})
        try:
            text, name = await self.services.gpu.run(
                reply, context, provider, lambda delta: emit({"type": "token", "text": delta}), token)
        except ModelUnavailable as exc:
            return unavailable(context, redact_paths(str(exc)))
        blocks = sum(1 for s in split_segments(text) if s.kind == "code")
        if blocks and context.snapshot:
            emit({"type": "status", "text": f"verifying {blocks} code block{'s' if blocks > 1 else ''}"})
        return await self.run_cpu(finish, context, text, name)

    async def _stream(self, request, request_id: str, token: CancelToken) -> None:
        self.set_header("Content-Type", "application/x-ndjson")
        self.set_header("Cache-Control", "no-cache")
        self.set_header("X-Accel-Buffering", "no")  # proxies must not hold tokens back
        stream = EventStream(self, token)
        await stream.send({"type": "start", "id": request_id})
        result, error = await stream.run(lambda: self._answer(request, token, stream.emit))
        if error is not None:
            await stream.fail(error)
        else:
            await stream.send({"type": "answer", "answer": result.to_dict()})
        await stream.send({"type": "done"})
        if stream.open:
            self.finish()


class ChatCancelHandler(RequestScoped):
    """POST {"id": str} -> {"cancelled": bool}: stops a running request of the same user."""

    @tornado.web.authenticated
    @authorized(EXECUTE)
    def post(self) -> None:
        data = parse_json_object(self.body())
        request_id = data.get("id")
        if not isinstance(request_id, str) or not REQUEST_ID.match(request_id):
            raise BadRequest("'id' must be the id of a running request (from its \"start\" event)")
        self.finish_json({"cancelled": self.services.requests.cancel(request_id)})


def routes() -> list[tuple[str, type]]:
    from ibert_jupyter.jupyter.server import ibert_url

    return [(ibert_url("chat"), ChatHandler), (ibert_url("chat", "cancel"), ChatCancelHandler)]
