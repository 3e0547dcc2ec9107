"""SQLite log of every model request and response, with timings (like ``llm logs``)."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable

from ibert_jupyter.model.base import ChatModel, Completion, GenerationRequest

SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at REAL NOT NULL,
    model TEXT NOT NULL,
    messages TEXT NOT NULL,
    params TEXT NOT NULL,
    responses TEXT,
    completion_tokens INTEGER,
    first_token_ms REAL,
    duration_ms REAL,
    error TEXT
)
"""


class RequestLog:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        with self._connect() as con:
            con.execute(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=10)

    def record(self, *, model: str, request: GenerationRequest, started_at: float,
               completions: list[Completion] | None, first_token_ms: float | None,
               duration_ms: float, error: str | None) -> int:
        params = {k: v for k, v in asdict(request).items() if k != "messages"}
        params["stop"] = list(params["stop"])
        with self._lock, self._connect() as con:
            cur = con.execute(
                "INSERT INTO requests (started_at, model, messages, params, responses, "
                "completion_tokens, first_token_ms, duration_ms, error) VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    started_at, model, json.dumps(list(request.messages)), json.dumps(params),
                    json.dumps([asdict(c) for c in completions]) if completions is not None else None,
                    sum(c.tokens for c in completions) if completions else 0,
                    first_token_ms, duration_ms, error,
                ),
            )
            return int(cur.lastrowid)

    def recent(self, limit: int = 20) -> list[dict]:
        with self._connect() as con:
            con.row_factory = sqlite3.Row
            rows = con.execute("SELECT * FROM requests ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [dict(row) for row in rows]


class LoggedModel:
    """Wraps any ChatModel; every call (success or failure) lands in the request log."""

    def __init__(self, inner: ChatModel, log: RequestLog):
        self.inner = inner
        self.log = log
        self.name = inner.name

    def generate(self, request: GenerationRequest, on_token: Callable[[int, str], None] | None = None):
        started = time.time()
        t0 = time.perf_counter()
        first: list[float] = []

        def relay(index: int, text: str) -> None:
            if not first:
                first.append((time.perf_counter() - t0) * 1e3)
            if on_token is not None:
                on_token(index, text)

        try:
            completions = self.inner.generate(request, relay)
        except BaseException as exc:
            self.log.record(model=self.name, request=request, started_at=started, completions=None,
                            first_token_ms=first[0] if first else None,
                            duration_ms=(time.perf_counter() - t0) * 1e3,
                            error=f"{type(exc).__name__}: {exc}")
            raise
        self.log.record(model=self.name, request=request, started_at=started, completions=completions,
                        first_token_ms=first[0] if first else None,
                        duration_ms=(time.perf_counter() - t0) * 1e3, error=None)
        return completions
