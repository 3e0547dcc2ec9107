"""Token counts in Devstral's chat format: mistral-common's Tekken instruct encoding.

No Devstral checkpoint exists here. With ``--tokenizer PATH`` (a checkpoint's ``tekken.json``)
that file is used; otherwise the Tekken vocabulary bundled with mistral-common
(``tekken_240911.json``), which is a Mistral Tekken file but not Devstral's own. The card
and stats say which one counted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence


def bundled_tekken() -> Path:
    import mistral_common

    return Path(mistral_common.__file__).parent / "data" / "tekken_240911.json"


class ChatCounter:
    def __init__(self, path: str | Path | None = None):
        from mistral_common.protocol.instruct.validator import ValidationMode
        from mistral_common.tokens.tokenizers.mistral import MistralTokenizer

        self.path = Path(path) if path else bundled_tekken()
        if not self.path.is_file():
            raise FileNotFoundError(f"tokenizer file {self.path} does not exist (give a checkpoint's tekken.json)")
        self.label = (f"{self.path.name} given with --tokenizer ({self.path})" if path else
                      "mistral-common's bundled tekken_240911.json (a Mistral Tekken vocabulary, NOT Devstral's own tekken.json; "
                      "no Devstral checkpoint was available)")
        self._tok = MistralTokenizer.from_file(str(self.path), mode=ValidationMode.finetuning)

    def count(self, messages: Sequence[dict]) -> int:
        from mistral_common.protocol.instruct.messages import AssistantMessage, SystemMessage, UserMessage
        from mistral_common.protocol.instruct.request import ChatCompletionRequest

        kinds = {"system": SystemMessage, "user": UserMessage, "assistant": AssistantMessage}
        request = ChatCompletionRequest(messages=[kinds[m["role"]](content=m["content"]) for m in messages])
        return len(self._tok.encode_chat_completion(request).tokens)
