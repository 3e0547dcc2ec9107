"""Server routes that host Devstral: status, load, and streamed verified generation.

The model lives in the server process (loaded once, lazily or at start). All GPU work goes
through one single-thread queue. /ibert/generate streams NDJSON progress events and ends
with a ``result`` (or ``error``) event; candidates are verified against unbound tables
rebuilt from the kernel's schema snapshot, and the kernel re-checks against live tables.
"""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import tornado.iostream
import tornado.web
from jupyter_server.base.handlers import APIHandler
from traitlets import Bool, Unicode
from traitlets.config import Configurable

from ibert_jupyter.model import runtime
from ibert_jupyter.model.config import ModelSettings
from ibert_jupyter.model.errors import ModelUnavailable
from ibert_jupyter.model.status import model_status

SERVICE_KEY = "ibert_model_service"
MAX_N = 16
MAX_ROUNDS = 5


class IbertModel(Configurable):
    """``c.IbertModel.*`` in jupyter_server_config.py; unset traits fall back to IBERT_* env vars."""

    model = Unicode(None, allow_none=True, config=True, help="Devstral hub id (in the local HF cache) or directory")
    adapter = Unicode(None, allow_none=True, config=True, help="peft LoRA adapter directory")
    quantization = Unicode(None, allow_none=True, config=True, help="bf16 or nf4")
    backend = Unicode(None, allow_none=True, config=True, help="local or openai")
    endpoint = Unicode(None, allow_none=True, config=True, help="OpenAI-compatible base URL")
    endpoint_model = Unicode(None, allow_none=True, config=True, help="model name at the endpoint")
    device = Unicode(None, allow_none=True, config=True, help="auto, cuda, cuda:N or cpu")
    load_at_start = Bool(False, config=True, help="load the model when the server starts (else on first use)")

    def settings(self) -> ModelSettings:
        base = ModelSettings.from_env()
        return base.with_(model=self.model, adapter=self.adapter, quantization=self.quantization,
                          backend=self.backend, endpoint=self.endpoint,
                          endpoint_model=self.endpoint_model, device=self.device)


class ModelService:
    """Owns the one GPU queue; handlers submit work here."""

    def __init__(self, log):
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ibert-gpu")
        self.pending = 0
        self.log = log

    async def run(self, fn, *args):
        self.pending += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)
        finally:
            self.pending -= 1


def _is_oom(exc: BaseException) -> bool:
    return type(exc).__name__ == "OutOfMemoryError" or "out of memory" in str(exc).lower()


def _free_gpu_memory() -> None:
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:  # pragma: no cover - torch-less server with an endpoint backend
        pass


class _Base(APIHandler):
    @property
    def service(self) -> ModelService:
        return self.settings[SERVICE_KEY]

    def fail(self, status: int, error: str, message: str) -> None:
        self.set_status(status)
        self.finish(json.dumps({"error": error, "message": message}))


class ModelStatusHandler(_Base):
    @tornado.web.authenticated
    def get(self) -> None:
        self.finish(json.dumps({**model_status(), "queued": self.service.pending}))


class ModelLoadHandler(_Base):
    @tornado.web.authenticated
    async def post(self) -> None:
        try:
            await self.service.run(runtime.get_default_model)
        except ModelUnavailable as exc:
            return self.fail(503, "model_unavailable", str(exc))
        except Exception as exc:  # noqa: BLE001 - report, keep the server up
            if _is_oom(exc):
                _free_gpu_memory()
                return self.fail(507, "out_of_memory", f"not enough GPU memory to load the model: {exc}")
            return self.fail(500, "load_failed", f"{type(exc).__name__}: {exc}")
        self.finish(json.dumps(model_status()))


def parse_generate_body(raw: bytes) -> dict[str, Any]:
    """Validated /ibert/generate request; ValueError names the bad field."""
    try:
        body = json.loads(raw or b"")
    except json.JSONDecodeError as exc:
        raise ValueError(f"request body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ValueError("request body must be a JSON object")
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise ValueError("'prompt' must be a non-empty string")
    snapshot = body.get("snapshot", {"tables": []})
    from ibert_jupyter.context import tables_from_snapshot

    tables = tables_from_snapshot(snapshot)
    parsed = {"prompt": prompt, "snapshot": snapshot, "tables": tables}
    for name, default, upper in (("n", 4, MAX_N), ("rounds", 2, MAX_ROUNDS), ("max_new_tokens", 512, 4096)):
        value = body.get(name, default)
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= upper:
            raise ValueError(f"'{name}' must be an integer from 1 to {upper}, got {value!r}")
        parsed[name] = value
    dialect = body.get("dialect")
    if dialect is not None and not isinstance(dialect, str):
        raise ValueError("'dialect' must be a string")
    parsed["dialect"] = dialect
    return parsed


class GenerateHandler(_Base):
    @tornado.web.authenticated
    async def post(self) -> None:
        try:
            req = parse_generate_body(self.request.body)
        except ValueError as exc:
            return self.fail(400, "bad_request", str(exc))
        try:
            model = await self.service.run(runtime.get_default_model)
        except ModelUnavailable as exc:
            return self.fail(503, "model_unavailable", str(exc))
        except Exception as exc:  # noqa: BLE001
            if _is_oom(exc):
                _free_gpu_memory()
            return self.fail(500, "load_failed", f"{type(exc).__name__}: {exc}")

        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()
        done = object()

        def emit(event: dict) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, event)

        def work() -> None:
            from ibert_jupyter.generate import ModelCandidateSource, generate_verified

            try:
                source = ModelCandidateSource(model, max_new_tokens=req["max_new_tokens"])
                result = generate_verified(req["prompt"], req["tables"], source, snapshot=req["snapshot"],
                                           n=req["n"], rounds=req["rounds"], dialect=req["dialect"],
                                           on_event=emit)
                emit({"event": "result", "result": result.to_dict()})
            except ModelUnavailable as exc:
                emit({"event": "error", "error": "model_unavailable", "message": str(exc)})
            except Exception as exc:  # noqa: BLE001 - the server must survive any request
                if _is_oom(exc):
                    _free_gpu_memory()
                    emit({"event": "error", "error": "out_of_memory",
                          "message": f"GPU out of memory generating {req['n']} candidates; retry with "
                          "fewer candidates (--n) or a 4-bit model (IBERT_QUANTIZATION=nf4)"})
                else:
                    emit({"event": "error", "error": "generation_failed", "message": f"{type(exc).__name__}: {exc}"})
            finally:
                loop.call_soon_threadsafe(queue.put_nowait, done)

        self.set_header("Content-Type", "application/x-ndjson")
        self.write(json.dumps({"event": "queued", "ahead": self.service.pending}) + "\n")
        await self.flush()
        task = asyncio.ensure_future(self.service.run(work))
        while True:
            event = await queue.get()
            if event is done:
                break
            self.write(json.dumps(event, default=str) + "\n")
            try:
                await self.flush()
            except tornado.iostream.StreamClosedError:
                break
        await task
        self.finish()


def routes(base_url: str, server_app) -> list[tuple[str, type]]:
    from ibert_jupyter.jupyter.server import ibert_url

    config = IbertModel(parent=server_app)
    try:
        runtime.configure(config.settings())
    except ValueError as exc:  # bad setting: the status route reports it, the server stays up
        server_app.log.error("iBERT model settings are invalid: %s", exc)
        runtime.configure(None)
    service = ModelService(server_app.log)
    server_app.web_app.settings[SERVICE_KEY] = service
    if config.load_at_start:
        def load() -> None:
            try:
                runtime.get_default_model()
                server_app.log.info("iBERT: model loaded at start")
            except Exception as exc:  # noqa: BLE001 - a missing model must not stop the server
                server_app.log.warning("iBERT: model not loaded at start: %s", exc)

        service.executor.submit(load)
    return [
        (ibert_url(base_url, "model"), ModelStatusHandler),
        (ibert_url(base_url, "model", "load"), ModelLoadHandler),
        (ibert_url(base_url, "generate"), GenerateHandler),
    ]
