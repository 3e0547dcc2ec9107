"""Jupyter server extension: the ``IbertServer`` ExtensionApp that mounts iBERT's /ibert/ routes.

The app owns, for the life of the server, everything the routes share: its configuration
(``c.IbertServer.*`` limits and executors, ``c.IbertModel.*`` the model; IBERT_* environment
variables are the defaults), the ``IbertServices`` in the tornado settings (model thread, CPU
pool, body-parsing helper process, running requests), the process's verifier worker pool and
the loaded model. ``stop_extension`` (Jupyter calls it on shutdown, SIGTERM or
POST /api/shutdown) cancels running requests and releases all of them: no process outlives it.

Route modules each expose ``routes() -> list[(pattern, handler)]`` with patterns under
``/ibert/``; the app prefixes the server's base_url. Every handler derives from
``handlers_base.IbertHandler`` (authorization on the "ibert" resource, body limits, one error shape).
"""

from __future__ import annotations

import importlib
import os

from jupyter_server.extension.application import ExtensionApp
from jupyter_server.utils import url_path_join
from traitlets import Bool, Int, Unicode, default
from traitlets.config import Configurable

from ibert_jupyter.jupyter.services import MAX_N, MAX_ROUNDS
from ibert_jupyter.model.config import ModelSettings

ROUTE_MODULES: tuple[str, ...] = (
    "ibert_jupyter.jupyter.handlers_status",
    "ibert_jupyter.jupyter.handlers_model",
    "ibert_jupyter.jupyter.handlers_search",
    "ibert_jupyter.jupyter.handlers_chat",
    "ibert_jupyter.jupyter.handlers_complete",
)


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


def _env_int(name: str, fallback: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw.isdigit() else fallback


class IbertServer(ExtensionApp):
    """iBERT inside Jupyter Server; ``c.IbertServer.*`` configures limits, executors and defaults."""

    name = "ibert"
    description = "iBERT: verified Ibis code from Devstral, served to JupyterLab under /ibert/"
    load_other_extensions = True
    classes = [IbertModel]

    max_snapshot_body_bytes = Int(64 * 2**20, min=1, config=True,
                                  help="largest body accepted by routes that carry a schema snapshot")
    max_small_body_bytes = Int(64 * 2**10, min=1, config=True, help="largest body of the other POST routes")
    process_parse_bytes = Int(512 * 2**10, min=0, config=True,
                              help="bodies larger than this are parsed in a helper process, off the GIL")
    cpu_workers = Int(2, min=1, config=True, help="threads for retrieval, verification and table building")
    default_n = Int(4, min=1, max=MAX_N, config=True, help="candidates per round when a request does not say")
    default_rounds = Int(2, min=1, max=MAX_ROUNDS, config=True, help="generation rounds when a request does not say")
    verifier_workers = Int(min=0, config=True, help="verifier worker processes (0: the CPU count, at most 4); "
                                                    "default $IBERT_VERIFIER_WORKERS")
    warm_verifiers = Int(0, min=0, config=True,
                         help="verifier workers started with the server (saves ~1 s on the first check)")

    @default("verifier_workers")
    def _verifier_workers_from_env(self) -> int:
        return _env_int("IBERT_VERIFIER_WORKERS", 0)

    services = None  # IbertServices, from initialize_settings until stop_extension

    def initialize_settings(self) -> None:
        from ibert_jupyter.jupyter.services import SERVICES_KEY, IbertServices
        from ibert_jupyter.model import runtime

        self.model_config = IbertModel(parent=self)
        try:
            runtime.configure(self.model_config.settings())
        except ValueError as exc:  # bad setting: the status route reports it, the server stays up
            self.log.error("iBERT model settings are invalid: %s", exc)
            runtime.configure(None)
        # tornado setting "ibert_verifier_pool": a zero-argument callable returning a WorkerPool
        # that its owner closes (tests share one across servers); else the server owns its own
        shared = self.settings.get("ibert_verifier_pool")
        self.services = IbertServices(self, verifiers=shared() if shared is not None else None)
        self.settings[SERVICES_KEY] = self.services
        # background work starts with the extension (Jupyter's start hook never runs under
        # test harnesses that do not start the loop); both go to executors the app shuts down
        if self.warm_verifiers > 0:
            self.services.cpu.submit(self._warm_verifiers, self.services.verifiers)
        if self.model_config.load_at_start:
            self.services.gpu.executor.submit(self._load_model)

    def initialize_handlers(self) -> None:
        for module in ROUTE_MODULES:
            self.handlers.extend(importlib.import_module(module).routes())
        from ibert_jupyter.jupyter.handlers_base import UnknownRoute

        self.handlers.append((ibert_url("(.*)"), UnknownRoute))  # last: any other /ibert/ path
        self.log.info("iBERT server extension loaded: %d routes", len(self.handlers) - 1)

    def _warm_verifiers(self, pool) -> None:
        try:
            pool.warm(self.warm_verifiers)
        except Exception as exc:  # noqa: BLE001 - verification reports it again on first use
            self.log.warning("iBERT: verifier workers not started: %s", exc)

    def _load_model(self) -> None:
        from ibert_jupyter.model import runtime

        try:
            runtime.get_default_model()
            self.log.info("iBERT: model loaded at start")
        except Exception as exc:  # noqa: BLE001 - a missing model must not stop the server
            self.log.warning("iBERT: model not loaded at start: %s", exc)

    async def stop_extension(self) -> None:
        """Cancel running requests, close the executors, kill the helper and verifier processes."""
        services, self.services = self.services, None
        if services is None:
            return
        stopped = services.shutdown()
        self.log.info("iBERT stopped: %d running request(s) cancelled, %d worker process(es) ended",
                      stopped.cancelled, len(stopped.pids))


def ibert_url(*parts: str) -> str:
    """A route pattern under /ibert/ (the app adds the server's base_url)."""
    return url_path_join("/ibert", *parts)


# jupyter-server finds the app through ibert_jupyter._jupyter_server_extension_points; this
# one serves a server configured with this module's name instead of the package's.
def _jupyter_server_extension_points():
    return [{"module": __name__, "app": IbertServer}]
