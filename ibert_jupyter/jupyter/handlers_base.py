"""The one base class of iBERT's server routes: authorization, body limits, errors, executors.

Every route
- asks Jupyter's Authorizer (``@authorized`` with ``auth_resource = "ibert"``): reading status
  is "read"; anything that runs the model or changes it is "execute";
- streams its request body in and stops storing it past the route's limit (413 with the limit
  in the message, without holding the excess in memory);
- answers every error as ``{"error": {"type": str, "message": str}}``, chosen from one
  exception -> status table, with absolute paths cut from messages and no tracebacks;
- runs heavy work (snapshot parsing, tables, model, verification, retrieval) on executors so
  the event loop stays free for other requests.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any, Callable

import tornado.httputil
import tornado.web
from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from tornado.web import HTTPError

from ibert_jupyter.chat.snapshot import SnapshotBodyError, parse_json_object
from ibert_jupyter.errors import IbertError, IbertInputError
from ibert_jupyter.jupyter.services import IbertServices, SERVICES_KEY

AUTH_RESOURCE = "ibert"
READ, EXECUTE = "read", "execute"


class BadRequest(IbertInputError):
    """The request body is wrong; the message names the field and what is expected."""


class PayloadTooLarge(IbertInputError):
    """The request body exceeds the route's limit."""


class OutOfMemory(IbertError, RuntimeError):
    """The accelerator ran out of memory for this request; the message says what to change."""


def _error_table() -> tuple[tuple[type[BaseException], int, str], ...]:
    from ibert_jupyter.chat import ChatRequestError
    from ibert_jupyter.model.cancel import Cancelled
    from ibert_jupyter.model.errors import ModelUnavailable
    from ibert_jupyter.retrieval.errors import IndexUnavailable

    return (
        (PayloadTooLarge, 413, "PayloadTooLarge"),
        (BadRequest, 400, "BadRequest"),
        (SnapshotBodyError, 400, "BadRequest"),  # a body that is not the JSON object a route needs
        (ChatRequestError, 400, "BadRequest"),
        (ModelUnavailable, 503, "ModelUnavailable"),
        (IndexUnavailable, 503, "IndexUnavailable"),
        (OutOfMemory, 507, "OutOfMemory"),
        (Cancelled, 409, "Cancelled"),
    )


HTTP_TYPES = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
              405: "MethodNotAllowed", 409: "Conflict", 413: "PayloadTooLarge", 503: "Unavailable"}
INTERNAL = "iBERT hit an internal error; the Jupyter server log has the details"

# an absolute path (POSIX or Windows) not part of a URL: keep only its last component
_PATH = re.compile(r"(?<![\w:/.\-~])(?:~?/|[A-Za-z]:\\)(?:[^\s/\\'\"`:,;()]+[/\\])+([^\s/\\'\"`:,;()]*)")


def redact_paths(message: str) -> str:
    """Cut absolute paths from a message (they tell a client about the server's disk)."""
    return _PATH.sub(lambda m: f"…/{m.group(1)}" if m.group(1) else "…/", message)


def redact_paths_in(data: Any) -> Any:
    """``data`` with ``redact_paths`` applied to every string in it (a status for a viewer)."""
    if isinstance(data, str):
        return redact_paths(data)
    if isinstance(data, dict):
        return {key: redact_paths_in(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [redact_paths_in(value) for value in data]
    return data


def is_out_of_memory(exc: BaseException) -> bool:
    return type(exc).__name__ == "OutOfMemoryError" or "out of memory" in str(exc).lower()


def classify(exc: BaseException) -> tuple[int, str, str]:
    """(HTTP status, error type, client-safe message) for any exception."""
    if isinstance(exc, HTTPError):
        message = exc.log_message % exc.args if exc.log_message and exc.args else exc.log_message
        return exc.status_code, HTTP_TYPES.get(exc.status_code, "HTTPError"), redact_paths(
            message or exc.reason or tornado.httputil.responses.get(exc.status_code, "error"))
    for kind, status, name in _error_table():
        if isinstance(exc, kind):
            return status, name, redact_paths(str(exc))
    if is_out_of_memory(exc):
        return 507, "OutOfMemory", "the GPU ran out of memory; retry with fewer candidates or a 4-bit model"
    return 500, "InternalError", INTERNAL


def error_body(exc: BaseException) -> dict[str, Any]:
    _, kind, message = classify(exc)
    return {"type": kind, "message": message}


@tornado.web.stream_request_body
class IbertHandler(APIHandler):
    """Base of every /ibert/ route (see the module docstring)."""

    auth_resource = AUTH_RESOURCE
    body_limit_kind = "small"  # "small" | "snapshot": which configured limit applies

    # ---- shared services ---------------------------------------------------------------
    @property
    def services(self) -> IbertServices:
        return self.settings[SERVICES_KEY]

    async def run_cpu(self, fn: Callable, *args) -> Any:
        """Run ``fn`` on the CPU pool (parsing, tables, verification, retrieval)."""
        return await asyncio.get_running_loop().run_in_executor(self.services.cpu, fn, *args)

    # ---- request body ------------------------------------------------------------------
    async def prepare(self) -> None:
        await super().prepare()  # authentication, XSRF, Origin: before any byte of the body
        self._chunks: list[bytes] = []
        self._spill = None  # a temp file once the body outgrows memory (parsed by the helper process)
        self._received = 0
        self._limit = self.services.body_limit(self.body_limit_kind)
        declared = self.request.headers.get("Content-Length")
        self._too_large = declared is not None and declared.isdigit() and int(declared) > self._limit

    def data_received(self, chunk: bytes):
        self._store(chunk)
        # tornado feeds already-buffered chunks without returning to the loop; hand the loop
        # back after each one so a 50 MB upload does not hold up other requests
        return asyncio.sleep(0)

    def _store(self, chunk: bytes) -> None:
        self._received += len(chunk)
        if self._received > self._limit:
            self._too_large = True
            self._chunks = []  # keep nothing past the limit
        if self._too_large:
            return
        if (self._spill is None and self.body_limit_kind == "snapshot"
                and self._received > self.services.config.process_parse_bytes):
            import tempfile

            self._spill = tempfile.NamedTemporaryFile(prefix="ibert-body-", suffix=".json")
            self._spill.writelines(self._chunks)
            self._chunks = []
        if self._spill is not None:
            self._spill.write(chunk)
        else:
            self._chunks.append(chunk)

    def on_finish(self) -> None:
        if getattr(self, "_spill", None) is not None:
            self._spill.close()  # deletes the file
            self._spill = None
        super().on_finish()

    def _check_size(self) -> None:
        if self._too_large:
            raise PayloadTooLarge(
                f"request body is {max(self._received, int(self.request.headers.get('Content-Length') or 0)):,} "
                f"bytes; this route accepts at most {self._limit:,} bytes "
                f"(c.IbertServer.max_{self.body_limit_kind}_body_bytes)")

    def body(self) -> bytes:
        """The request body (small routes); PayloadTooLarge when it was over the route's limit."""
        self._check_size()
        return b"".join(self._chunks)

    async def snapshot_body(self, query_fields: tuple[str, ...]):
        """The body parsed with its schema snapshot cut to size (``chat.snapshot``), off the loop.

        A body that outgrew memory was spooled to a temp file as it arrived; the helper process
        parses that file, so the server never holds or copies the big buffer.
        """
        from ibert_jupyter.chat.snapshot import parse_snapshot_body

        self._check_size()  # SnapshotBodyError from either parser answers 400 BadRequest
        if self._spill is not None:
            self._spill.flush()
            return await self.run_cpu(self.services.snapshots.parse, self._spill.name, query_fields)
        return await self.run_cpu(parse_snapshot_body, b"".join(self._chunks), query_fields)

    # ---- errors ------------------------------------------------------------------------
    def send_error(self, status_code: int = 500, **kwargs: Any) -> None:
        exc_info = kwargs.get("exc_info")
        if exc_info and exc_info[1] is not None:
            status_code = classify(exc_info[1])[0]
        super().send_error(status_code, **kwargs)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc_info = kwargs.get("exc_info")
        if exc_info and exc_info[1] is not None:
            error = error_body(exc_info[1])
        else:
            error = {"type": HTTP_TYPES.get(status_code, "HTTPError"),
                     "message": tornado.httputil.responses.get(status_code, "error")}
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"error": error}))

    def log_exception(self, typ, value, tb) -> None:
        if value is not None and classify(value)[0] < 500:
            self.log.info("iBERT %s %s: %s", self.request.method, self.request.path, error_body(value)["message"])
        else:
            super().log_exception(typ, value, tb)

    async def finish_status(self, data: dict[str, Any]) -> None:
        """Answer a status; the server's paths (weights, adapter, log, index) are shown only to
        users who may change the model config ("execute"), cut to their last name for viewers."""
        allowed = await ensure_async(self.authorizer.is_authorized(self, self.current_user, EXECUTE, AUTH_RESOURCE))
        self.finish_json(data if allowed else redact_paths_in(data))

    def finish_json(self, data: Any) -> None:
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(data, default=str))


class UnknownRoute(IbertHandler):
    """Any other path under /ibert/: 404 in the one error shape (after authentication)."""

    @tornado.web.authenticated
    def get(self, path: str) -> None:
        raise HTTPError(404, f"iBERT has no {self.request.method} route at this path (docs/server.md lists them)")

    post = put = patch = delete = get


__all__ = ["AUTH_RESOURCE", "BadRequest", "EXECUTE", "IbertHandler", "OutOfMemory", "PayloadTooLarge", "READ",
           "authorized", "classify", "error_body", "parse_json_object", "redact_paths", "redact_paths_in",
           "UnknownRoute"]
