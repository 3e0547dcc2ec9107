"""Validate a chat request body before any work starts, so bad input gets a precise 400."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ibert_jupyter.chat.snapshot import SnapshotBody, SnapshotBodyError, parse_snapshot_body
from ibert_jupyter.errors import IbertInputError

MAX_QUESTION_CHARS = 4000


class ChatRequestError(IbertInputError):
    """The request body is not a valid chat request; the message names the problem."""


REQUEST_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
FIELDS = frozenset({"question", "snapshot", "stream", "id"})


@dataclass(frozen=True)
class ChatRequest:
    question: str
    snapshot: dict[str, Any] | None
    stream: bool = False  # answer as NDJSON events (contract B) instead of one JSON object
    id: str | None = None  # the client's id for this request (to cancel it); the server picks one if absent
    notice: str | None = None  # said to the user when the snapshot was cut to fit


def chat_request_from_fields(data: dict[str, Any], body: SnapshotBody | None = None) -> ChatRequest:
    """Check the fields of a parsed chat body (the snapshot was checked by parse_snapshot_body)."""
    unknown = sorted(set(data) - FIELDS)
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
    stream = data.get("stream", False)
    if not isinstance(stream, bool):
        raise ChatRequestError("'stream' must be true or false")
    request_id = data.get("id")
    if request_id is not None and not (isinstance(request_id, str) and REQUEST_ID.match(request_id)):
        raise ChatRequestError("'id' must be 1-64 letters, digits, '-' or '_'")
    snapshot = body.snapshot if body is not None else None
    return ChatRequest(question, snapshot, stream, request_id, body.notice if body is not None else None)


def parse_chat_request(body: bytes | str) -> ChatRequest:
    """Parse ``{"question": str, "snapshot": object|null, "stream"?: bool, "id"?: str}``."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    try:
        parsed = parse_snapshot_body(body, ("question",))
    except SnapshotBodyError as exc:
        raise ChatRequestError(str(exc)) from None
    return chat_request_from_fields(parsed.fields, parsed)
