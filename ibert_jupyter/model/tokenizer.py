"""Chat prompt encoding for Devstral: mistral-common's Tekken where the checkpoint ships it.

Devstral's own chat format lives in mistral-common (``tekken.json``), not in a Jinja
template; checkpoints converted with a ``tokenizer.json`` + chat template use transformers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, Sequence

from ibert_jupyter.model.base import Message
from ibert_jupyter.model.errors import ModelUnavailable


class ChatTokenizer(Protocol):
    eos_ids: frozenset[int]

    def encode_chat(self, messages: Sequence[Message]) -> list[int]: ...

    def decode(self, ids: Sequence[int]) -> str: ...


class MistralCommonTokenizer:
    """Tekken tokenizer + Mistral instruct format (system prompt, [INST] ... [/INST])."""

    def __init__(self, path: Path):
        from mistral_common.tokens.tokenizers.mistral import MistralTokenizer

        self._tokenizer = MistralTokenizer.from_file(str(path))
        raw = self._tokenizer.instruct_tokenizer.tokenizer
        self.eos_ids = frozenset({raw.eos_id})
        self.vocab_size = raw.n_words

    def encode_chat(self, messages: Sequence[Message]) -> list[int]:
        from mistral_common.protocol.instruct.messages import (
            AssistantMessage,
            SystemMessage,
            UserMessage,
        )
        from mistral_common.protocol.instruct.request import ChatCompletionRequest

        kinds = {"system": SystemMessage, "user": UserMessage, "assistant": AssistantMessage}
        converted = []
        for i, message in enumerate(messages):
            role = message.get("role")
            if role not in kinds:
                raise ValueError(f"message #{i} has unknown role {role!r} (system, user, assistant)")
            converted.append(kinds[role](content=message["content"]))
        request = ChatCompletionRequest(messages=converted)
        return list(self._tokenizer.encode_chat_completion(request).tokens)

    def decode(self, ids: Sequence[int]) -> str:
        return self._tokenizer.decode(list(ids))


class TransformersChatTokenizer:
    """Fallback for checkpoints that carry tokenizer.json and a chat template."""

    def __init__(self, path: Path):
        from transformers import AutoTokenizer

        self._tokenizer = AutoTokenizer.from_pretrained(str(path))
        if not getattr(self._tokenizer, "chat_template", None):
            raise ModelUnavailable(f"{path} has a tokenizer but no chat template and no tekken.json")
        self.eos_ids = frozenset({self._tokenizer.eos_token_id})
        self.vocab_size = len(self._tokenizer)

    def encode_chat(self, messages: Sequence[Message]) -> list[int]:
        ids = self._tokenizer.apply_chat_template(list(messages), add_generation_prompt=True, tokenize=True)
        return list(ids["input_ids"] if isinstance(ids, dict) else ids)

    def decode(self, ids: Sequence[int]) -> str:
        return self._tokenizer.decode(list(ids), skip_special_tokens=True)


TEKKEN_FILES = ("tekken.json",)


def load_chat_tokenizer(weights: Path) -> ChatTokenizer:
    for name in TEKKEN_FILES:
        if (weights / name).is_file():
            return MistralCommonTokenizer(weights / name)
    if (weights / "tokenizer.json").is_file() or (weights / "tokenizer_config.json").is_file():
        return TransformersChatTokenizer(weights)
    raise ModelUnavailable(f"{weights} has no tokenizer (expected tekken.json for Devstral)")
