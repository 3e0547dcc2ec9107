"""Streaming chat (contract B) on a real Jupyter server: event order, tokens before the model
finishes, cancel by id and by hanging up (decoding stops), and an OpenAI-compatible endpoint
whose tokens reach the client while it is still sending.

Models: SCRIPTED (GatedModel, tokens released by the test), the FAKE tiny Devstral (random
weights, tests/model/conftest.py) and a FAKE OpenAI-compatible SSE endpoint (a local HTTP server).
"""

from __future__ import annotations

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from tornado.httpclient import HTTPClientError

from ibert_jupyter.model import runtime
from ibert_jupyter.model.log import RequestLog
from tests.server.conftest import ORDERS_SNAPSHOT, GatedModel, NDJSONReader, TokenCounter, error_of, stream_post

CODE = "```python\norders.group_by('o_orderstatus').agg(n=orders.count())\n```"


@pytest.fixture
def chat(jp_serverapp, server_url, jp_auth_header):
    """Post a streaming chat turn with a given model provider; returns (reader, fetch future)."""
    settings = jp_serverapp.web_app.settings
    settings["ibert_chat_search"] = lambda query, k: [{"public_name": "Table.group_by", "kind": "method"}]

    def start(provider, question="how many orders per status?", snapshot=ORDERS_SNAPSHOT):
        if provider is not None:
            settings["ibert_chat_model_provider"] = provider
        reader = NDJSONReader()
        body = {"question": question, "snapshot": snapshot, "stream": True}
        return reader, stream_post(f"{server_url}ibert/chat", jp_auth_header, body, reader)

    yield start
    settings.pop("ibert_chat_model_provider", None)
    settings.pop("ibert_chat_search", None)


async def test_events_arrive_in_order_and_tokens_before_the_model_finishes(chat):
    model = GatedModel(["Group and count:\n", CODE])
    reader, fetch = chat(lambda: model)
    start = await reader.wait_for(lambda e: e["type"] == "start")
    assert start["id"]
    model.release.release()
    first = await reader.wait_for(lambda e: e["type"] == "token")
    assert first["text"] == "Group and count:\n"
    assert not model.finished.is_set()  # on screen while the model is still generating
    model.release.release()
    response = await fetch
    assert response.code == 200 and response.headers["Content-Type"].startswith("application/x-ndjson")
    kinds = [e["type"] for e in reader.events]
    assert kinds[0] == "start" and kinds[-2:] == ["answer", "done"]
    assert [e["text"] for e in reader.events if e["type"] == "token"] == model.tokens
    statuses = [e["text"] for e in reader.events if e["type"] == "status"]
    assert statuses == ["searching the Ibis API", "writing the answer", "verifying 1 code block"]
    assert kinds.index("token") < len(kinds) - 1 - kinds[::-1].index("status")  # verifying comes after the tokens
    answer = reader.events[-2]["answer"]
    assert answer["status"] == "answered" and answer["model"] == "scripted-gated"
    [code] = [s for s in answer["segments"] if s["kind"] == "code"]
    assert code["verification"]["ok"] is True and code["verification"]["verified_against"] == ["orders (unbound)"]


async def test_non_stream_answer_equals_the_streamed_answer_object(chat, jp_fetch):
    model = GatedModel(["Group and count:\n", CODE], gate_every_token=False)
    model.release.release()
    reader, fetch = chat(lambda: model)
    await fetch
    streamed = reader.events[-2]["answer"]
    model.release.release()  # the same scripted model answers the plain request
    response = await jp_fetch("ibert", "chat", method="POST", body=json.dumps(
        {"question": "how many orders per status?", "snapshot": ORDERS_SNAPSHOT}))
    assert json.loads(response.body) == streamed


async def test_without_a_model_the_retrieval_answer_comes_once(chat):
    from ibert_jupyter.model.errors import ModelUnavailable

    def no_model():
        raise ModelUnavailable("no model is configured: set IBERT_MODEL")

    reader, fetch = chat(no_model)
    await fetch
    kinds = [e["type"] for e in reader.events]
    assert kinds.count("answer") == 1 and kinds[-1] == "done" and "token" not in kinds and "error" not in kinds
    answer = reader.events[-2]["answer"]
    assert answer["status"] == "model_unavailable"
    assert answer["text"].count("unavailable") == 1 and answer["symbols"][0]["public_name"] == "Table.group_by"


async def test_cancel_by_id_stops_the_model(chat, jp_fetch):
    model = GatedModel(["one ", "two ", "three"])
    reader, fetch = chat(lambda: model)
    request_id = (await reader.wait_for(lambda e: e["type"] == "start"))["id"]
    model.release.release()
    await reader.wait_for(lambda e: e["type"] == "token")
    cancelled = await jp_fetch("ibert", "chat", "cancel", method="POST", body=json.dumps({"id": request_id}))
    assert json.loads(cancelled.body) == {"cancelled": True}
    model.release.release()  # the model tries to send its next token ...
    await fetch
    assert model.outcome == "cancelled after 1 tokens"  # ... and is stopped there
    assert [e["type"] for e in reader.events][-2:] == ["error", "done"]
    assert reader.events[-2]["error"]["type"] == "Cancelled"
    again = await jp_fetch("ibert", "chat", "cancel", method="POST", body=json.dumps({"id": request_id}))
    assert json.loads(again.body) == {"cancelled": False}  # already over


async def test_cancel_needs_a_valid_id(jp_fetch):
    with pytest.raises(HTTPClientError) as bad:
        await jp_fetch("ibert", "chat", "cancel", method="POST", body=json.dumps({"id": "../../etc"}))
    assert bad.value.code == 400 and error_of(bad.value)["type"] == "BadRequest"


@pytest.mark.slow
async def test_hanging_up_stops_decoding_of_the_tiny_devstral(tiny_devstral, jp_serverapp, jp_fetch,
                                                              jp_http_port, jp_base_url, jp_auth_header, tmp_path):
    """FAKE tiny Devstral (random weights) decoding through the production runtime and decode loop."""
    import torch

    from ibert_jupyter.model.config import ModelSettings

    runtime.configure(ModelSettings(model=str(tiny_devstral["weights"]), device="cpu",
                                    log_path=tmp_path / "requests.sqlite"))
    counter: dict = {}

    def provider():
        if "model" not in counter:
            counter["model"] = TokenCounter(runtime.get_default_model())
        return counter["model"]

    jp_serverapp.web_app.settings["ibert_chat_model_provider"] = provider
    jp_serverapp.web_app.settings["ibert_chat_search"] = lambda query, k: []
    torch.manual_seed(0)  # random weights sample noise; a fixed seed keeps it from ending at once by chance
    body = json.dumps({"question": "count orders", "snapshot": None, "stream": True}).encode()
    reader, writer = await asyncio.open_connection("127.0.0.1", jp_http_port)
    writer.write(f"POST {jp_base_url}ibert/chat HTTP/1.1\r\nHost: 127.0.0.1:{jp_http_port}\r\n"
                 f"Authorization: {jp_auth_header['Authorization']}\r\nContent-Type: application/json\r\n"
                 f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    await writer.drain()
    received = b""
    while b'"type": "token"' not in received:
        chunk = await asyncio.wait_for(reader.read(4096), 120)
        assert chunk and b'"type": "error"' not in chunk, received + chunk
        received += chunk
    writer.close()  # the user closed the tab
    model = counter["model"]
    tokens_at_close = model.tokens
    assert await asyncio.to_thread(model.finished.wait, 60)
    assert model.outcome == "cancelled"
    assert model.tokens <= tokens_at_close + 2 and model.tokens < 100  # chat allows 768: it stopped, not ran out
    [row] = RequestLog(tmp_path / "requests.sqlite").recent()
    assert row["error"].startswith("Cancelled")


class GatedSSE(BaseHTTPRequestHandler):
    """FAKE OpenAI-compatible endpoint: sends one delta, then waits for the test before the rest."""

    gate = threading.Event()
    sent_first = threading.Event()

    def log_message(self, *args):
        pass

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()

        def send(text, reason=None):
            chunk = {"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": reason}]}
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.flush()

        send("Count them:\n")
        GatedSSE.sent_first.set()
        GatedSSE.gate.wait(30)
        try:
            send(CODE, "stop")
            self.wfile.write(b"data: [DONE]\n\n")
        except OSError:
            pass


@pytest.fixture
def endpoint():
    GatedSSE.gate.clear()
    GatedSSE.sent_first.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), GatedSSE)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/v1"
    GatedSSE.gate.set()
    server.shutdown()


async def _use_endpoint(jp_fetch, url):
    status = json.loads((await jp_fetch("ibert", "model", "config", method="POST",
                                        body=json.dumps({"endpoint": {"url": url, "model": "ibert"}}))).body)
    assert status["backend"] == "openai" and status["endpoint"] == url


async def test_endpoint_tokens_reach_the_client_while_it_is_still_sending(chat, jp_fetch, endpoint):
    await _use_endpoint(jp_fetch, endpoint)
    reader, fetch = chat(None)  # the configured model: the endpoint
    token = await reader.wait_for(lambda e: e["type"] == "token")
    assert token["text"] == "Count them:\n" and not GatedSSE.gate.is_set()  # the endpoint has not finished
    GatedSSE.gate.set()
    await fetch
    answer = reader.events[-2]["answer"]
    assert answer["status"] == "answered" and answer["model"].startswith("openai:")
    assert [s["verification"]["ok"] for s in answer["segments"] if s["kind"] == "code"] == [True]


async def test_cancel_closes_the_endpoint_stream_at_once(chat, jp_fetch, endpoint):
    await _use_endpoint(jp_fetch, endpoint)
    reader, fetch = chat(None)
    request_id = (await reader.wait_for(lambda e: e["type"] == "start"))["id"]
    await reader.wait_for(lambda e: e["type"] == "token")
    await jp_fetch("ibert", "chat", "cancel", method="POST", body=json.dumps({"id": request_id}))
    await asyncio.wait_for(fetch, 10)  # over while the endpoint is still blocked before its next token
    assert not GatedSSE.gate.is_set()
    assert reader.events[-2]["error"]["type"] == "Cancelled" and reader.events[-1] == {"type": "done"}


class DecodesUntilCancelled:
    """SCRIPTED: emits a token every 10 ms (like a decode loop) until on_token raises, at most 20 s."""

    name = "scripted-endless"

    def __init__(self):
        self.tokens = 0
        self.outcome = None
        self.finished = threading.Event()

    def generate(self, request, on_token=None):
        import time

        from ibert_jupyter.model import Completion
        from ibert_jupyter.model.cancel import Cancelled

        deadline = time.monotonic() + 20
        try:
            while time.monotonic() < deadline:
                on_token(0, "x")
                self.tokens += 1
                time.sleep(0.01)
            self.outcome = "ran out"
            return [Completion(text="x")] * request.n
        except Cancelled:
            self.outcome = "cancelled"
            raise
        finally:
            self.finished.set()


async def test_hanging_up_on_generate_stops_the_model(jp_fetch, jp_http_port, jp_base_url, jp_auth_header):
    model = DecodesUntilCancelled()
    body = json.dumps({"prompt": "count orders", "snapshot": ORDERS_SNAPSHOT, "n": 1, "rounds": 1}).encode()
    with runtime.use_model(model):
        reader, writer = await asyncio.open_connection("127.0.0.1", jp_http_port)
        writer.write(f"POST {jp_base_url}ibert/generate HTTP/1.1\r\nHost: 127.0.0.1:{jp_http_port}\r\n"
                     f"Authorization: {jp_auth_header['Authorization']}\r\nContent-Length: {len(body)}\r\n\r\n"
                     .encode() + body)
        received = b""
        while b'"event": "token"' not in received:
            received += await asyncio.wait_for(reader.read(4096), 60)
        writer.close()
        assert await asyncio.to_thread(model.finished.wait, 30)
    assert model.outcome == "cancelled" and model.tokens < 1000
