"""The tiny model contract every backend implements (local Devstral, OpenAI-compatible).

Kept deliberately small, like ``llm``'s Model/Response: chat messages in, N completions out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Protocol, Sequence

Message = dict[str, str]  # {"role": "system"|"user"|"assistant", "content": "..."}


@dataclass(frozen=True)
class Completion:
    text: str
    tokens: int = 0
    finish_reason: str = "stop"


@dataclass(frozen=True)
class GenerationRequest:
    messages: Sequence[Message]
    n: int = 1
    max_new_tokens: int = 512
    temperature: float = 0.7
    top_p: float = 0.95
    stop: Sequence[str] = field(default_factory=tuple)


class ChatModel(Protocol):
    """What generation, repair and chat need from a model backend."""

    name: str

    def generate(
        self, request: GenerationRequest, on_token: Callable[[int, str], None] | None = None
    ) -> list[Completion]:
        """Return ``request.n`` completions; ``on_token(candidate_index, text)`` streams."""
        ...
