"""OpenAI-compatible backend against a local HTTP server that replays a SCRIPTED SSE stream
(the shape vLLM sends for n=2), through the runtime and its request log."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ibert_jupyter.model import GenerationRequest, ModelUnavailable, runtime
from ibert_jupyter.model.log import RequestLog


class ScriptedSSEHandler(BaseHTTPRequestHandler):
    seen: list = []

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        ScriptedSSEHandler.seen.append((self.path, self.headers.get("Authorization"), body))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        chunks = [(0, "orders.", None), (1, "orders", None), (0, "count()", "stop"), (1, ".limit(1)", "length")]
        for index, text, reason in chunks:
            payload = {"choices": [{"index": index, "delta": {"content": text}, "finish_reason": reason}]}
            self.wfile.write(f"data: {json.dumps(payload)}\n\n".encode())
        self.wfile.write(b"data: [DONE]\n\n")


@pytest.fixture
def endpoint():
    server = ThreadingHTTPServer(("127.0.0.1", 0), ScriptedSSEHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/v1"
    server.shutdown()


def test_streams_n_choices_and_logs(fresh_runtime, endpoint, monkeypatch, tmp_path):
    monkeypatch.setenv("IBERT_OPENAI_BASE_URL", endpoint)
    monkeypatch.setenv("IBERT_OPENAI_MODEL", "ibert")
    monkeypatch.setenv("IBERT_OPENAI_API_KEY", "sekret")
    runtime.configure(None)
    model = runtime.get_default_model()
    streamed = []
    out = model.generate(GenerationRequest(messages=[{"role": "user", "content": "count"}], n=2, stop=("\n\n",)),
                         lambda i, t: streamed.append((i, t)))
    assert [c.text for c in out] == ["orders.count()", "orders.limit(1)"]
    assert [c.finish_reason for c in out] == ["stop", "length"]
    path, auth, body = ScriptedSSEHandler.seen[-1]
    assert path == "/v1/chat/completions" and auth == "Bearer sekret"
    assert body["model"] == "ibert" and body["n"] == 2 and body["stop"] == ["\n\n"] and body["stream"] is True
    assert len(streamed) == 4
    [row] = RequestLog(tmp_path / "requests.sqlite").recent()
    assert row["model"].startswith("openai:") and row["completion_tokens"] == 4


def test_unreachable_endpoint_is_model_unavailable(fresh_runtime, monkeypatch):
    monkeypatch.setenv("IBERT_OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    runtime.configure(None)
    with pytest.raises(ModelUnavailable, match="cannot reach"):
        runtime.get_default_model().generate(GenerationRequest(messages=[{"role": "user", "content": "x"}]))
