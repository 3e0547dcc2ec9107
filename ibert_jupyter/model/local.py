"""Local backend: Devstral (+ LoRA) in this process, N candidates per forward pass."""

from __future__ import annotations

import threading
from typing import Callable

from ibert_jupyter.model.base import Completion, GenerationRequest
from ibert_jupyter.model.config import ModelSettings
from ibert_jupyter.model.loader import LoadedModel, load_local


class StreamingText:
    """Incremental detokenisation of one candidate, with stop-sequence detection.

    Decodes the whole row each step (Tekken merges bytes across tokens) and emits only the
    new suffix; holds back text that ends in a partial UTF-8 character.
    """

    def __init__(self, decode: Callable[[list[int]], str], stop: tuple[str, ...]):
        self._decode = decode
        self.stop = stop
        self.ids: list[int] = []
        self.text = ""
        self.stopped = False

    def push(self, token: int) -> str:
        self.ids.append(token)
        full = self._decode(self.ids)
        if full.endswith("\ufffd"):
            return ""
        for marker in self.stop:
            cut = full.find(marker)
            if cut >= 0:
                full = full[:cut]
                self.stopped = True
                break
        delta = full[len(self.text):] if full.startswith(self.text) else ""
        self.text = full
        return delta


class LocalChatModel:
    """ChatModel over a loaded transformers model. One request at a time (one GPU)."""

    def __init__(self, loaded: LoadedModel, settings: ModelSettings, *, fast_decode: bool | None = None):
        self.loaded = loaded
        self.settings = settings
        self.name = f"{settings.model}" + (f"+{settings.adapter}" if settings.adapter else "")
        self._lock = threading.Lock()
        use_fast = settings.fast_decode if fast_decode is None else fast_decode
        self._step = None  # transformers forward + static cache under torch.compile (fallback)
        self._fused = None  # FusedDecoder: Mistral-architecture Devstral (2505/2507)
        if use_fast and (loaded.device.type == "cuda" or fast_decode):
            from ibert_jupyter.model.fused_mistral import UnsupportedModel

            try:
                from ibert_jupyter.model.fast_decode import FusedDecoder

                self._fused = FusedDecoder(loaded.model)
            except UnsupportedModel:
                if loaded.device.type == "cuda":
                    from ibert_jupyter.model.decoding import CompiledStep

                    self._step = CompiledStep(loaded.model)

    @property
    def decode_path(self) -> str:
        """Which decode loop serves requests: "fused", "compiled" or "plain"."""
        return "fused" if self._fused else "compiled" if self._step else "plain"

    @classmethod
    def from_settings(cls, settings: ModelSettings) -> "LocalChatModel":
        return cls(load_local(settings), settings)

    def generate(
        self, request: GenerationRequest, on_token: Callable[[int, str], None] | None = None
    ) -> list[Completion]:
        from ibert_jupyter.model.decoding import decode

        if request.n < 1:
            raise ValueError("n must be at least 1")
        tokenizer = self.loaded.tokenizer
        prompt = tokenizer.encode_chat(request.messages)
        streams = [StreamingText(tokenizer.decode, tuple(request.stop)) for _ in range(request.n)]
        finished: set[int] = set()

        def on_step(step: int, tokens: list[int]):
            newly = set()
            for row, token in enumerate(tokens):
                if row in finished or token in tokenizer.eos_ids:
                    finished.add(row)
                    continue
                delta = streams[row].push(token)
                if delta and on_token is not None:
                    on_token(row, delta)
                if streams[row].stopped:
                    finished.add(row)
                    newly.add(row)
            return newly

        options = dict(n=request.n, max_new_tokens=request.max_new_tokens, temperature=request.temperature,
                       top_p=request.top_p, eos_ids=tokenizer.eos_ids, on_step=on_step)
        with self._lock:
            if self._fused is not None:
                result = self._fused.decode(prompt, **options)
            else:
                result = decode(self.loaded.model, prompt, compiled_step=self._step, **options)
        return [
            Completion(text=stream.text, tokens=len(row), finish_reason=reason)
            for stream, row, reason in zip(streams, result.tokens, result.finish_reasons)
        ]
