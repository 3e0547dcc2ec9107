"""Fixtures for the server tests: a real Jupyter server (pytest-jupyter) with iBERT loaded.

Models here are SCRIPTED (fixed texts, tokens released by the test) or the FAKE tiny
Devstral of tests/model/conftest.py (random weights of Devstral's architecture).
"""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import pytest
import tornado.httpclient
from jupyter_server.auth.authorizer import Authorizer

from ibert_jupyter.model import Completion, runtime
from ibert_jupyter.model.cancel import Cancelled
from tests.model.conftest import tiny_devstral  # noqa: F401 - the FAKE tiny Devstral fixture

# pytest-jupyter's server fixtures are registered in tests/conftest.py (pytest_plugins belongs there)

ORDERS_SNAPSHOT = {"version": 1, "backends": [], "tables": [
    {"variable": "orders", "name": "orders", "backend": "duckdb", "dialect": "duckdb", "bound": True,
     "columns": [{"name": "o_orderkey", "type": "int64"}, {"name": "o_orderstatus", "type": "string"},
                 {"name": "o_totalprice", "type": "decimal(15, 2)"}]}]}


class DenyAll(Authorizer):
    """An Authorizer that refuses everything (a locked-down deployment)."""

    def is_authorized(self, handler, user, action, resource) -> bool:
        return False


class ReadOnly(Authorizer):
    """An Authorizer for viewers: "read" allowed, "write"/"execute" refused."""

    def is_authorized(self, handler, user, action, resource) -> bool:
        return action == "read"


class GatedModel:
    """SCRIPTED model: sends ``tokens`` one by one, waiting for the test between them.

    ``release`` lets the next token go; ``finished`` is set when generate returns or raises;
    ``outcome`` says how ("done" or "cancelled" after k tokens).
    """

    name = "scripted-gated"

    def __init__(self, tokens: list[str], *, gate_every_token: bool = True):
        self.tokens = tokens
        self.gate_every_token = gate_every_token
        self.release = threading.Semaphore(0)
        self.finished = threading.Event()
        self.outcome: str | None = None
        self.sent = 0

    def generate(self, request, on_token=None):
        try:
            for token in self.tokens:
                if (self.gate_every_token or self.sent == 0) and not self.release.acquire(timeout=30):
                    raise TimeoutError("the test never released the scripted model")
                if on_token is not None:
                    on_token(0, token)
                self.sent += 1
            self.outcome = "done"
            return [Completion(text="".join(self.tokens), tokens=self.sent)]
        except Cancelled:
            self.outcome = f"cancelled after {self.sent} tokens"
            raise
        finally:
            self.finished.set()


class TokenCounter:
    """Wraps a real model; records every token it decoded and how its generate ended."""

    def __init__(self, inner):
        self.inner = inner
        self.name = inner.name
        self.tokens = 0
        self.outcome: str | None = None
        self.finished = threading.Event()
        self.first_token = threading.Event()

    def generate(self, request, on_token=None):
        def count(index, text):
            self.tokens += 1
            self.first_token.set()
            if on_token:
                on_token(index, text)

        try:
            out = self.inner.generate(request, count)
            self.outcome = "done"
            return out
        except Cancelled:
            self.outcome = "cancelled"
            raise
        finally:
            self.finished.set()


@pytest.fixture(scope="session")
def shared_verifier_pool():
    """One real verifier pool for the servers of these tests: each server would otherwise start
    (and on stop kill) its own workers. test_server_shutdown checks the server-owned pool."""
    from ibert_jupyter.verify.pool import WorkerPool

    pool = WorkerPool(size=2)
    yield pool
    pool.close()


@pytest.fixture
def ibert_server_config(shared_verifier_pool):
    """Base jp_server_config with iBERT enabled; tests extend it."""
    return {"ServerApp": {"jpserver_extensions": {"ibert_jupyter": True},
                          "tornado_settings": {"ibert_verifier_pool": lambda: shared_verifier_pool}}}


@pytest.fixture
def jp_server_config(ibert_server_config):
    return ibert_server_config


@pytest.fixture(autouse=True)
def _fresh_model_runtime(tmp_path, monkeypatch):
    for var in list(__import__("os").environ):
        if var.startswith("IBERT_"):
            monkeypatch.delenv(var)
    monkeypatch.setenv("IBERT_LOG_DB", str(tmp_path / "requests.sqlite"))
    yield
    runtime.configure(None)


@pytest.fixture
def ibert_services(jp_serverapp):
    """The running IbertServer's services (the app shuts them down when the server stops)."""
    from ibert_jupyter.jupyter.services import SERVICES_KEY

    return jp_serverapp.web_app.settings[SERVICES_KEY]


@pytest.fixture
def server_url(jp_fetch, jp_http_port, jp_base_url):
    """http://127.0.0.1:PORT/BASE/ (jp_fetch makes the test loop serve HTTP)."""
    return f"http://127.0.0.1:{jp_http_port}{jp_base_url}"


def error_of(exc: tornado.httpclient.HTTPClientError) -> dict[str, Any]:
    body = json.loads(exc.response.body)
    assert set(body) == {"error"} and set(body["error"]) == {"type", "message"}, body
    return body["error"]


class NDJSONReader:
    """Reads an NDJSON response as it arrives (tornado's streaming_callback), line by line."""

    def __init__(self):
        self.events: list[dict] = []
        self._buffer = b""
        self.changed = asyncio.Event()

    def feed(self, chunk: bytes) -> None:
        self._buffer += chunk
        while b"\n" in self._buffer:
            line, self._buffer = self._buffer.split(b"\n", 1)
            if line.strip():
                self.events.append(json.loads(line))
        self.changed.set()

    async def wait_for(self, predicate, timeout: float = 30.0) -> dict:
        async def loop():
            while True:
                for event in self.events:
                    if predicate(event):
                        return event
                self.changed.clear()
                await self.changed.wait()

        return await asyncio.wait_for(loop(), timeout)


def stream_post(url: str, headers: dict, body: dict, reader: NDJSONReader):
    """Start a streaming POST; returns the fetch future (resolves when the response ends)."""
    client = tornado.httpclient.AsyncHTTPClient()
    request = tornado.httpclient.HTTPRequest(url, method="POST", body=json.dumps(body), headers=headers,
                                             streaming_callback=reader.feed, request_timeout=120)
    return asyncio.ensure_future(client.fetch(request, raise_error=False))
