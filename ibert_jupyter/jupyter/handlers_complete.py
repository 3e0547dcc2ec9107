"""POST /ibert/complete: inline completion for the notebook editor (adapter over chat.completion).

Body: {"prefix": str, "suffix": str, "snapshot": <kernel schema snapshot> | null, "id"?: str}
-> 200 {"completion": str, "verified": bool, "verification": {...} | null}
-> 503 {"error": {"type": "ModelUnavailable", ...}} when no model is configured, or a local
   model is not loaded yet (a keystroke must not start a minutes-long load: POST /ibert/model/load).
A newer completion request cancels the one still running (the user typed on: only the latest
cursor position matters), so aborted completions never queue up on the model; a client can
also cancel its own with POST /ibert/chat/cancel {"id"}.
"""

from __future__ import annotations

import tornado.web

from ibert_jupyter.chat.completion import MAX_CELL_CHARS, complete
from ibert_jupyter.chat.request import REQUEST_ID
from ibert_jupyter.jupyter.handlers_base import EXECUTE, BadRequest, authorized
from ibert_jupyter.jupyter.handlers_chat import RequestScoped
from ibert_jupyter.model import runtime
from ibert_jupyter.model.errors import ModelUnavailable


def completion_fields(fields: dict) -> tuple[str, str, str | None]:
    unknown = sorted(set(fields) - {"prefix", "suffix", "id"})
    if unknown:
        raise BadRequest(f"unknown field(s) in completion request: {', '.join(unknown)}")
    prefix, suffix = fields.get("prefix"), fields.get("suffix", "")
    if not isinstance(prefix, str) or not isinstance(suffix, str):
        raise BadRequest("'prefix' and 'suffix' must be strings (the cell's text before and after the cursor)")
    if len(prefix) + len(suffix) > MAX_CELL_CHARS:
        raise BadRequest(f"the cell is {len(prefix) + len(suffix)} characters; the limit is {MAX_CELL_CHARS}")
    request_id = fields.get("id")
    if request_id is not None and not (isinstance(request_id, str) and REQUEST_ID.match(request_id)):
        raise BadRequest("'id' must be 1-64 letters, digits, '-' or '_'")
    return prefix, suffix, request_id


def completion_model():
    """The model if it can answer now; never starts loading local weights."""
    model = runtime.loaded_model()
    if model is not None:
        return model
    settings = runtime.current_settings()
    if settings.backend == "local":
        from ibert_jupyter.model.status import model_status

        if model_status().get("status") == "unavailable":
            return runtime.get_default_model()  # raises ModelUnavailable with the instructions
        raise ModelUnavailable("the model is not loaded yet; load it from the iBERT sidebar "
                               "(POST /ibert/model/load) to get inline completions")
    return runtime.get_default_model()  # an endpoint: nothing heavy to load


class CompleteHandler(RequestScoped):
    body_limit_kind = "snapshot"

    @tornado.web.authenticated
    @authorized(EXECUTE)
    async def post(self) -> None:
        parsed = await self.snapshot_body(("prefix", "suffix"))
        prefix, suffix, wanted_id = completion_fields(parsed.fields)
        model = await self.run_cpu(completion_model)
        request_id, self._token = self.services.requests.open(wanted_id)
        previous, self.services.latest_completion = self.services.latest_completion, self._token
        if previous is not None:
            previous.cancel()
        try:
            result = await self.services.gpu.run(
                lambda: complete(prefix, suffix, parsed.snapshot, model, cancel=self._token))
        finally:
            self.services.requests.close(request_id)
        self.finish_json(result.to_dict())


def routes() -> list[tuple[str, type]]:
    from ibert_jupyter.jupyter.server import ibert_url

    return [(ibert_url("complete"), CompleteHandler)]
