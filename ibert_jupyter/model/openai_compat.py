"""Backend for any OpenAI-compatible endpoint (vLLM serving Devstral + iBERT's LoRA).

Same prompts as the local backend; N candidates via the API's ``n``; streaming over SSE, so
each delta reaches ``on_token`` while the endpoint is still sending. A cancelled request
(``model.cancel.current_token()``) closes the HTTP stream at once, which makes vLLM abort
the sequence instead of decoding on for nobody.
"""

from __future__ import annotations

import json
import socket
from typing import Callable

from ibert_jupyter.model.base import Completion, GenerationRequest
from ibert_jupyter.model.cancel import Cancelled, current_token
from ibert_jupyter.model.config import ModelSettings
from ibert_jupyter.model.errors import ModelUnavailable


def _interrupter(response) -> Callable[[], None]:
    """A callable that makes the thread blocked reading ``response`` return at once.

    Closing a socket from another thread does not wake a blocked ``recv``; shutting it down does.
    """
    stream = response.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None

    def interrupt() -> None:
        if sock is None:
            response.close()
            return
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    return interrupt


class OpenAICompatibleModel:
    def __init__(self, settings: ModelSettings, *, timeout_s: float = 300.0):
        if not settings.endpoint:
            raise ModelUnavailable("no endpoint configured: set IBERT_OPENAI_BASE_URL")
        self.settings = settings
        self.base_url = settings.endpoint.rstrip("/")
        self.model_name = settings.endpoint_model or settings.model
        self.name = f"openai:{self.base_url}/{self.model_name}"
        self.timeout_s = timeout_s

    @classmethod
    def from_settings(cls, settings: ModelSettings) -> "OpenAICompatibleModel":
        return cls(settings)

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self.settings.api_key:
            headers["Authorization"] = f"Bearer {self.settings.api_key}"
        return headers

    def generate(
        self, request: GenerationRequest, on_token: Callable[[int, str], None] | None = None
    ) -> list[Completion]:
        import httpx

        body = {
            "model": self.model_name,
            "messages": list(request.messages),
            "n": request.n,
            "max_tokens": request.max_new_tokens,
            "temperature": request.temperature,
            "top_p": request.top_p,
            "stream": True,
        }
        if request.stop:
            body["stop"] = list(request.stop)
        texts = [""] * request.n
        counts = [0] * request.n
        reasons = ["length"] * request.n
        url = f"{self.base_url}/chat/completions"
        token = current_token()
        if token is not None:
            token.raise_if_cancelled()
        try:
            with httpx.stream("POST", url, json=body, headers=self._headers(), timeout=self.timeout_s) as response:
                unregister = token.on_cancel(_interrupter(response)) if token is not None else (lambda: None)
                try:
                    if response.status_code != 200:
                        detail = response.read().decode(errors="replace")[:500]
                        raise ModelUnavailable(f"the model endpoint answered {response.status_code}: {detail}")
                    for line in response.iter_lines():
                        if not line.startswith("data:"):
                            continue
                        payload = line[len("data:"):].strip()
                        if payload == "[DONE]":
                            break
                        self._apply_chunk(json.loads(payload), request.n, texts, counts, reasons, on_token)
                finally:
                    unregister()
            if token is not None:
                token.raise_if_cancelled()  # the stream may have ended quietly when it was cut
        except Cancelled:
            raise
        except Exception as exc:
            if token is not None and token.cancelled:
                raise Cancelled("the request was cancelled; the endpoint stream was closed") from None
            if isinstance(exc, httpx.HTTPError):
                raise ModelUnavailable(f"cannot reach the model endpoint {self.base_url}: {exc}") from exc
            raise
        return [Completion(text=t, tokens=c, finish_reason=r) for t, c, r in zip(texts, counts, reasons)]

    @staticmethod
    def _apply_chunk(chunk: dict, n: int, texts: list[str], counts: list[int], reasons: list[str],
                     on_token: Callable[[int, str], None] | None) -> None:
        for choice in chunk.get("choices", []):
            index = int(choice.get("index", 0))
            if not 0 <= index < n:
                raise ModelUnavailable(f"endpoint returned choice index {index} for n={n}")
            delta = (choice.get("delta") or {}).get("content") or ""
            if delta:
                texts[index] += delta
                counts[index] += 1
                if on_token is not None:
                    on_token(index, delta)
            if choice.get("finish_reason"):
                reasons[index] = choice["finish_reason"]
