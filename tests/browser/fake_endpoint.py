"""A FAKE OpenAI-compatible chat endpoint (SSE streaming) for the browser tests.

It stands in for vLLM serving Devstral, whose weights do not exist here, so the real model
runtime's OpenAI backend runs end to end without a GPU. Its answers are fixed texts chosen by
what the request asks (nothing is "generated"); it records every request, when it wrote each
token (epoch ms, the browser's clock too), and whether the client hung up before the end.

- inline completion requests (the system prompt names the <CURSOR>): COMPLETION
- chat questions containing "slowly": REPLY, one word every SLOW_DELAY_S
- chat questions containing "at length": LONG_TOKENS words, one every LONG_DELAY_S (to cancel)
- anything else: REPLY at once (also %%ibert's generation requests)
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CODE = "orders.group_by('o_orderkey').agg(total=orders.o_totalprice.sum())"
REPLY = f"Group by the order key and sum the price:\n\n```python\n{CODE}\n```\n"
COMPLETION = ".group_by('o_orderkey').agg(total=orders.o_totalprice.sum())"
SLOW_DELAY_S = 0.25
LONG_DELAY_S = 0.1
LONG_TOKENS = 150


def _plan(body: dict) -> tuple[list[str], float]:
    messages = body.get("messages", [])
    system = next((m["content"] for m in messages if m.get("role") == "system"), "")
    last = messages[-1]["content"] if messages else ""
    if "<CURSOR>" in system:
        return [COMPLETION], 0.0
    if "at length" in last:
        return [f"word{i} " for i in range(LONG_TOKENS)], LONG_DELAY_S
    words = [piece + " " for piece in REPLY.split(" ")]
    return words, (SLOW_DELAY_S if "slowly" in last else 0.0)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):  # noqa: N802 - http.server API
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        record = {"path": self.path, "body": body, "sent_ms": [], "completed": False, "disconnected_ms": None}
        self.server.requests.append(record)
        if self.path != "/v1/chat/completions":
            self.send_error(404)
            return
        pieces, delay = _plan(body)
        n = int(body.get("n") or 1)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        try:
            for piece in pieces:
                if delay:
                    time.sleep(delay)
                for index in range(n):
                    chunk = {"choices": [{"index": index, "delta": {"content": piece}, "finish_reason": None}]}
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.flush()
                record["sent_ms"].append(time.time() * 1000)
            for index in range(n):
                done = {"choices": [{"index": index, "delta": {}, "finish_reason": "stop"}]}
                self.wfile.write(f"data: {json.dumps(done)}\n\n".encode())
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()
            record["completed"] = True
        except (BrokenPipeError, ConnectionResetError):
            record["disconnected_ms"] = time.time() * 1000
        self.close_connection = True

    def log_message(self, *args):
        pass


class FakeEndpoint:
    def __enter__(self):
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.server.requests = []
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    @property
    def requests(self) -> list[dict]:
        return self.server.requests

    def chat_requests(self, containing: str) -> list[dict]:
        return [r for r in self.requests if containing in json.dumps(r["body"].get("messages", [])[-1:])]

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
