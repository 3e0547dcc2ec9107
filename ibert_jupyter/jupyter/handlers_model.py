"""Server routes that host Devstral: status, load, run-time config, and streamed verified generation.

The model lives in the server process (loaded once, lazily or at start). All model work goes
through one single-thread queue. /ibert/generate streams NDJSON progress events and ends
with a ``result`` (or ``error``) event; candidates are verified against unbound tables
rebuilt from the kernel's schema snapshot, and the kernel re-checks against live tables.
POST /ibert/model/config changes the model, endpoint, quantization, N or rounds while the
server runs: the loaded model is dropped (its memory freed) and the next use loads the new one.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import tornado.web

from ibert_jupyter.jupyter.handlers_base import (
    EXECUTE,
    READ,
    BadRequest,
    IbertHandler,
    OutOfMemory,
    authorized,
    is_out_of_memory,
    parse_json_object,
)
from ibert_jupyter.jupyter.handlers_chat import RequestScoped
from ibert_jupyter.jupyter.handlers_stream import EventStream
from ibert_jupyter.jupyter.services import MAX_N, MAX_ROUNDS, GenerationDefaults
from ibert_jupyter.model import runtime
from ibert_jupyter.model.config import QUANTIZATIONS, ModelSettings
from ibert_jupyter.model.status import model_status

MAX_NEW_TOKENS = 4096


def load_model() -> Any:
    """Load (or return) the configured model; an OOM becomes OutOfMemory with memory freed."""
    try:
        return runtime.get_default_model()
    except Exception as exc:
        if is_out_of_memory(exc):
            runtime.free_accelerator_memory()
            raise OutOfMemory("not enough GPU memory to load the model; try quantization \"nf4\"") from None
        raise


class _ModelRoute(IbertHandler):
    def status(self) -> dict[str, Any]:
        defaults = self.services.defaults
        return {**model_status(), "queued": self.services.gpu.pending, "n": defaults.n, "rounds": defaults.rounds}


class ModelStatusHandler(_ModelRoute):
    @tornado.web.authenticated
    @authorized(READ)
    async def get(self) -> None:
        await self.finish_status(self.status())  # paths only for users who may change the config


class ModelLoadHandler(_ModelRoute):
    @tornado.web.authenticated
    @authorized(EXECUTE)
    async def post(self) -> None:
        await self.services.gpu.run(load_model)
        self.finish_json(self.status())


def _int_field(body: dict, name: str, default: int, upper: int) -> int:
    value = body.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= upper:
        raise BadRequest(f"'{name}' must be an integer from 1 to {upper}, got {value!r}")
    return value


def settings_from_config(body: dict[str, Any], current: ModelSettings) -> ModelSettings:
    """The settings a POST /ibert/model/config body asks for; BadRequest names a bad field."""
    unknown = sorted(set(body) - {"model_path", "endpoint", "quantization", "n", "rounds"})
    if unknown:
        raise BadRequest(f"unknown field(s) in model config: {', '.join(unknown)}")
    if "model_path" in body and "endpoint" in body:
        raise BadRequest("give either 'model_path' (a local model) or 'endpoint' (a served one), not both")
    changes: dict[str, Any] = {}
    if "model_path" in body:
        path = body["model_path"]
        if not isinstance(path, str) or not path.strip():
            raise BadRequest("'model_path' must be a non-empty string: a model directory or a hub id in the local cache")
        changes.update(backend="local", model=path.strip(), endpoint=None, endpoint_model=None)
    if "endpoint" in body:
        endpoint = body["endpoint"]
        url = endpoint.get("url") if isinstance(endpoint, dict) else None
        name = endpoint.get("model") if isinstance(endpoint, dict) else None
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise BadRequest("'endpoint.url' must be an http(s) URL, e.g. http://gpu-box:8000/v1")
        if not isinstance(name, str) or not name.strip():
            raise BadRequest("'endpoint.model' must be the model name the endpoint serves")
        changes.update(backend="openai", endpoint=url, endpoint_model=name.strip())
    if "quantization" in body:
        if body["quantization"] not in QUANTIZATIONS:
            raise BadRequest(f"'quantization' must be one of {', '.join(QUANTIZATIONS)}, got {body['quantization']!r}")
        changes["quantization"] = body["quantization"]
    try:
        return dataclasses.replace(current, **changes)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None


class ModelConfigHandler(_ModelRoute):
    """POST {"model_path"?, "endpoint"?: {"url", "model"}, "quantization"?, "n"?, "rounds"?} -> status."""

    @tornado.web.authenticated
    @authorized(EXECUTE)
    async def post(self) -> None:
        body = parse_json_object(self.body())
        try:
            current = runtime.current_settings()
        except ValueError:  # the environment's settings are broken: start from the defaults
            current = ModelSettings()
        settings = settings_from_config(body, current)
        defaults = self.services.defaults
        defaults = GenerationDefaults(_int_field(body, "n", defaults.n, MAX_N),
                                      _int_field(body, "rounds", defaults.rounds, MAX_ROUNDS))
        if settings != current:
            # on the model queue: a running generation finishes with the old model first
            await self.services.gpu.run(runtime.reconfigure, settings)
        self.services.defaults = defaults
        self.log.info("iBERT model config changed: backend=%s quantization=%s n=%d rounds=%d",
                      settings.backend, settings.quantization, defaults.n, defaults.rounds)
        self.finish_json(self.status())


def generate_request(fields: dict[str, Any], defaults: GenerationDefaults) -> dict[str, Any]:
    """Validated /ibert/generate fields (the snapshot is parsed separately)."""
    prompt = fields.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise BadRequest("'prompt' must be a non-empty string")
    dialect = fields.get("dialect")
    if dialect is not None and not isinstance(dialect, str):
        raise BadRequest("'dialect' must be a string")
    return {"prompt": prompt, "dialect": dialect,
            "n": _int_field(fields, "n", defaults.n, MAX_N),
            "rounds": _int_field(fields, "rounds", defaults.rounds, MAX_ROUNDS),
            "max_new_tokens": _int_field(fields, "max_new_tokens", 512, MAX_NEW_TOKENS)}


def tables_for(snapshot: dict[str, Any]) -> dict[str, Any]:
    from ibert_jupyter.context import tables_from_snapshot

    try:
        return tables_from_snapshot(snapshot)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None


class GenerateHandler(RequestScoped):
    body_limit_kind = "snapshot"

    @tornado.web.authenticated
    @authorized(EXECUTE)
    async def post(self) -> None:
        parsed = await self.snapshot_body(("prompt",))
        req = generate_request(parsed.fields, self.services.defaults)
        snapshot = parsed.snapshot or {"tables": []}
        tables = await self.run_cpu(tables_for, snapshot)
        model = await self.services.gpu.run(load_model)
        request_id, token = self.services.requests.open()
        self._token = token
        try:
            await self._stream(req, snapshot, tables, model, request_id, parsed.notice)
        finally:
            self.services.requests.close(request_id)

    async def _stream(self, req, snapshot, tables, model, request_id, notice) -> None:
        from ibert_jupyter.model.cancel import cancellable

        token = self._token
        self.set_header("Content-Type", "application/x-ndjson")
        self.set_header("X-Accel-Buffering", "no")
        stream = EventStream(self, token)
        await stream.send({"event": "queued", "ahead": self.services.gpu.pending, "id": request_id})
        if notice:
            await stream.send({"event": "notice", "message": notice})

        def emit(event: dict) -> None:
            if event.get("event") == "token":
                token.raise_if_cancelled()  # raised inside the decode loop: decoding stops
            stream.emit(event)

        def work() -> dict:
            from ibert_jupyter.generate import ModelCandidateSource, generate_verified

            with cancellable(token):
                source = ModelCandidateSource(model, max_new_tokens=req["max_new_tokens"])
                result = generate_verified(req["prompt"], tables, source, snapshot=snapshot, n=req["n"],
                                           rounds=req["rounds"], dialect=req["dialect"], on_event=emit)
            return result.to_dict()

        result, error = await stream.run(lambda: self.services.gpu.run(work))
        if error is not None:
            if is_out_of_memory(error):
                runtime.free_accelerator_memory()
                error = OutOfMemory(f"GPU out of memory generating {req['n']} candidates; retry with fewer "
                                    "candidates (n) or a 4-bit model (quantization \"nf4\")")
            await stream.fail(error, key="event")
        else:
            await stream.send({"event": "result", "result": result})
        if stream.open:
            self.finish()


def routes() -> list[tuple[str, type]]:
    from ibert_jupyter.jupyter.server import ibert_url

    return [
        (ibert_url("model"), ModelStatusHandler),
        (ibert_url("model", "load"), ModelLoadHandler),
        (ibert_url("model", "config"), ModelConfigHandler),
        (ibert_url("generate"), GenerateHandler),
    ]
