"""Split a model's markdown answer into prose and fenced code blocks.

Done on the server so every client (sidebar, magics, tests) sees the same structure and
code blocks can be verified before they are shown.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

_FENCE = re.compile(r"^(```|~~~)[ \t]*([\w+-]*)[^\n]*\n(.*?)(?:^\1[ \t]*$|\Z)", re.DOTALL | re.MULTILINE)


@dataclass(frozen=True)
class Segment:
    kind: str  # "text" | "code"
    text: str
    language: str | None = None
    verification: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def split_segments(markdown: str) -> list[Segment]:
    """Prose and code segments in order; an unterminated fence runs to the end of the text."""
    segments: list[Segment] = []
    pos = 0
    for match in _FENCE.finditer(markdown):
        prose = markdown[pos : match.start()].strip("\n")
        if prose.strip():
            segments.append(Segment("text", prose))
        code = match.group(3).rstrip("\n")
        segments.append(Segment("code", code, (match.group(2) or "python").lower()))
        pos = match.end()
    tail = markdown[pos:].strip("\n")
    if tail.strip():
        segments.append(Segment("text", tail))
    return segments
