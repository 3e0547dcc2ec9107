"""Validate a chat request body before any work starts, so bad input gets a precise 400."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

MAX_QUESTION_CHARS = 4000


class ChatRequestError(ValueError):
    """The request body is not a valid chat request; the message names the problem."""


@dataclass(frozen=True)
class ChatRequest:
    question: str
    snapshot: dict[str, Any] | None


def _check_snapshot(snapshot: Any) -> dict[str, Any] | None:
    if snapshot is None:
        return None
    if not isinstance(snapshot, dict):
        raise ChatRequestError(f"'snapshot' must be an object or null, got {type(snapshot).__name__}")
    tables = snapshot.get("tables")
    if not isinstance(tables, list):
        raise ChatRequestError("'snapshot' must have a 'tables' list (from ibert_jupyter.context.schema_snapshot)")
    for i, entry in enumerate(tables):
        if not isinstance(entry, dict) or not isinstance(entry.get("variable"), str):
            raise ChatRequestError(f"'snapshot.tables[{i}]' must be an object with a 'variable' name")
        if not isinstance(entry.get("columns", []), list):
            raise ChatRequestError(f"'snapshot.tables[{i}].columns' must be a list")
    return snapshot


def parse_chat_request(body: bytes | str) -> ChatRequest:
    """Parse ``{"question": str, "snapshot": object|null}``; raise ChatRequestError otherwise."""
    if isinstance(body, bytes):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ChatRequestError(f"request body is not UTF-8: {exc}") from exc
    if not body.strip():
        raise ChatRequestError('request body is empty; send JSON {"question": "...", "snapshot": null}')
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        raise ChatRequestError(f"request body is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ChatRequestError(f"request body must be a JSON object, got {type(data).__name__}")
    unknown = sorted(set(data) - {"question", "snapshot"})
    if unknown:
        raise ChatRequestError(f"unknown field(s) in chat request: {', '.join(unknown)}")
    question = data.get("question")
    if not isinstance(question, str):
        raise ChatRequestError("'question' is required and must be a string")
    question = question.strip()
    if not question:
        raise ChatRequestError("'question' is empty")
    if len(question) > MAX_QUESTION_CHARS:
        raise ChatRequestError(f"'question' is {len(question)} characters; the limit is {MAX_QUESTION_CHARS}")
    return ChatRequest(question=question, snapshot=_check_snapshot(data.get("snapshot")))
