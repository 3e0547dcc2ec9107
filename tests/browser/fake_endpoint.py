"""A minimal OpenAI-compatible chat endpoint (SSE streaming) for the browser test.

It lets the real model runtime's OpenAI backend run end to end without a GPU: it replies
with a fixed Ibis answer and records every request so the test can check the prompt the
sidebar's question produced (kernel tables included).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REPLY = (
    "Group by the order key and sum the price:\n\n"
    "```python\norders.group_by('o_orderkey').agg(total=orders.o_totalprice.sum())\n```\n"
)


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - http.server API
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append({"path": self.path, "body": body})
        if self.path != "/v1/chat/completions":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for piece in REPLY.split(" "):
            chunk = {"choices": [{"index": 0, "delta": {"content": piece + " "}, "finish_reason": None}]}
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
        done = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
        self.wfile.write(f"data: {json.dumps(done)}\n\ndata: [DONE]\n\n".encode())

    def log_message(self, *args):
        pass


class FakeEndpoint:
    def __enter__(self):
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
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

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
