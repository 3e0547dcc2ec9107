"""Cancelling a model request from another thread: the client closed the tab or pressed Stop.

A ``CancelToken`` is set by the server (client disconnect, POST /ibert/chat/cancel) and
checked by the thread that decodes. Every backend stops the same way: the caller's
``on_token`` raises ``Cancelled``, which unwinds the decode loop (local) or closes the SSE
stream (endpoint). Backends that can stop sooner (an endpoint still thinking before its
first token) register ``on_cancel`` callbacks through ``current_token()``.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Callable, Iterator

from ibert_jupyter.errors import IbertError


class Cancelled(IbertError, RuntimeError):
    """The request was cancelled; decoding stopped and nothing more will be sent."""


class CancelToken:
    """A one-way switch shared by the request's handler and its worker thread."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[], None]] = []

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def cancel(self) -> bool:
        """Cancel; True the first time (the request was still running), False after."""
        with self._lock:
            if self._event.is_set():
                return False
            self._event.set()
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            try:
                callback()
            except Exception:  # noqa: BLE001 - a failing closer must not stop the others
                pass
        return True

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled("the request was cancelled")

    def on_cancel(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Run ``callback`` when cancelled (at once if already); returns an unregister function."""
        with self._lock:
            if not self._event.is_set():
                self._callbacks.append(callback)
                return lambda: self._discard(callback)
        callback()
        return lambda: None

    def _discard(self, callback: Callable[[], None]) -> None:
        with self._lock:
            if callback in self._callbacks:
                self._callbacks.remove(callback)


_current: ContextVar[CancelToken | None] = ContextVar("ibert_cancel_token", default=None)


def current_token() -> CancelToken | None:
    """The token of the request this thread is serving, if any."""
    return _current.get()


@contextmanager
def cancellable(token: CancelToken | None) -> Iterator[CancelToken | None]:
    """Make ``token`` the current one for model calls made inside the block."""
    reset = _current.set(token)
    try:
        yield token
    finally:
        _current.reset(reset)


def stopping_on_cancel(token: CancelToken | None, on_token: Callable[[int, str], None] | None = None
                       ) -> Callable[[int, str], None]:
    """An ``on_token`` callback that forwards tokens and raises ``Cancelled`` once cancelled."""

    def relay(index: int, text: str) -> None:
        if token is not None:
            token.raise_if_cancelled()
        if on_token is not None:
            on_token(index, text)

    return relay
