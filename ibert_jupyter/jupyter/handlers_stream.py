"""NDJSON responses fed from worker threads, cancelled when the client goes away.

``EventStream`` is the one place that turns events emitted on executor threads into lines
on the wire, flushing each so a token reaches the browser as soon as it is decoded. A
closed connection (write fails, or tornado reports the close) cancels the request's token,
which stops the decoding that feeds it.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Awaitable, Callable

import tornado.iostream

from ibert_jupyter.jupyter.handlers_base import IbertHandler, error_body
from ibert_jupyter.model.cancel import CancelToken

Event = dict[str, Any]
_END = object()


class EventStream:
    """Write events of one request as NDJSON lines while ``work`` runs."""

    def __init__(self, handler: IbertHandler, token: CancelToken):
        self.handler = handler
        self.token = token
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue = asyncio.Queue()
        self.open = True

    def emit(self, event: Event) -> None:
        """Queue an event; safe to call from any thread."""
        self.loop.call_soon_threadsafe(self.queue.put_nowait, event)

    async def send(self, event: Event) -> None:
        if not self.open:
            return
        self.handler.write(json.dumps(event, default=str) + "\n")
        try:
            await self.handler.flush()
        except tornado.iostream.StreamClosedError:
            self.open = False
            self.token.cancel()  # nobody is listening: stop decoding

    async def run(self, work: Callable[[], Awaitable[Any]]) -> tuple[Any, BaseException | None]:
        """Run ``work`` (which emits), relaying its events; returns (result, exception)."""
        task = asyncio.ensure_future(work())
        task.add_done_callback(lambda _: self.emit(_END))  # type: ignore[arg-type]
        while True:
            event = await self.queue.get()
            if event is _END:
                break
            await self.send(event)
        try:
            return task.result(), None
        except Exception as exc:  # noqa: BLE001 - turned into an error event by the caller
            return None, exc

    async def fail(self, exc: BaseException, key: str = "type") -> None:
        """Send the error event for ``exc`` (logged when it is not the client's doing)."""
        body = error_body(exc)
        if body["type"] == "InternalError":
            self.handler.log.error("iBERT request failed", exc_info=exc)
        await self.send({key: "error", "error": body})
