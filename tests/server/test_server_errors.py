"""The one exception -> status table, the path scrubbing every error message goes through, and
the one error shape on a real Jupyter server for every way a request to /ibert/ can go wrong."""

from __future__ import annotations

import json

import pytest
from tornado.httpclient import HTTPClientError
from tornado.web import HTTPError

from ibert_jupyter.chat import ChatRequestError
from ibert_jupyter.chat.snapshot import SnapshotBodyError
from ibert_jupyter.jupyter.handlers_base import BadRequest, PayloadTooLarge, classify, redact_paths
from ibert_jupyter.model.cancel import Cancelled
from ibert_jupyter.model.errors import ModelUnavailable
from ibert_jupyter.retrieval.errors import IndexUnavailable
from tests.server.conftest import error_of


@pytest.mark.parametrize(("exc", "status", "kind"), [
    (BadRequest("'n' must be an integer"), 400, "BadRequest"),
    (ChatRequestError("'question' is empty"), 400, "BadRequest"),
    (SnapshotBodyError("request body is not valid JSON"), 400, "BadRequest"),
    (PayloadTooLarge("too big"), 413, "PayloadTooLarge"),
    (ModelUnavailable("no weights"), 503, "ModelUnavailable"),
    (IndexUnavailable("no index"), 503, "IndexUnavailable"),
    (Cancelled("stop"), 409, "Cancelled"),
    (RuntimeError("CUDA out of memory. Tried to allocate 2 GiB"), 507, "OutOfMemory"),
    (HTTPError(403, "User is not authorized to execute on resource: ibert."), 403, "Forbidden"),
    (KeyError("/home/me/secret/thing"), 500, "InternalError"),
])
def test_every_exception_gets_one_status_and_type(exc, status, kind):
    got_status, got_kind, message = classify(exc)
    assert (got_status, got_kind) == (status, kind)
    assert "/home/me" not in message and "Traceback" not in message


def test_internal_errors_say_nothing_about_internals():
    assert classify(ValueError("/srv/app/x.py line 3: boom"))[2] == \
        "iBERT hit an internal error; the Jupyter server log has the details"


@pytest.mark.parametrize(("message", "expected"), [
    ("no weights at /home/u/models/devstral: set IBERT_MODEL", "no weights at …/devstral: set IBERT_MODEL"),
    ("IBERT_MODEL=/tmp/pytest-3/absent does not exist", "IBERT_MODEL=…/absent does not exist"),
    ("see ~/.cache/huggingface/hub", "see …/hub"),
    (r"C:\Users\me\models\devstral missing", "…/devstral missing"),
    ("cannot reach http://gpu-box:8000/v1/chat/completions", "cannot reach http://gpu-box:8000/v1/chat/completions"),
    ("'n' must be from 1 to 16", "'n' must be from 1 to 16"),
])
def test_paths_are_cut_but_urls_and_plain_text_stay(message, expected):
    assert redact_paths(message) == expected


@pytest.mark.parametrize(("method", "path", "body", "status", "kind", "says"), [
    ("GET", "ibert/no/such/route", None, 404, "NotFound", "iBERT has no GET route at this path"),
    ("POST", "ibert/nope", "{}", 404, "NotFound", "iBERT has no POST route"),
    ("GET", "ibert/chat", None, 405, "MethodNotAllowed", "Method Not Allowed"),
    ("POST", "ibert/model/config", "{not json", 400, "BadRequest", "request body is not valid JSON"),
    ("POST", "ibert/chat/cancel", "[1]", 400, "BadRequest", "request body must be a JSON object, got list"),
    ("POST", "ibert/chat", "", 400, "BadRequest", "request body is empty"),
    ("POST", "ibert/generate", '{"prompt": "x", "snapshot": 3}', 400, "BadRequest", "'snapshot' must be an object"),
    ("POST", "ibert/complete", '{"prefix": 1, "snapshot": null}', 400, "BadRequest", "'prefix' and 'suffix'"),
])
async def test_every_failure_on_a_real_server_has_the_one_error_shape(jp_fetch, method, path, body, status, kind, says):
    with pytest.raises(HTTPClientError) as failed:
        await jp_fetch(*path.split("/"), method=method, body=body, allow_nonstandard_methods=True)
    assert failed.value.code == status
    assert failed.value.response.headers["Content-Type"].startswith("application/json")
    error = error_of(failed.value)  # exactly {"error": {"type", "message"}}
    assert error["type"] == kind and says in error["message"], error
    assert "Traceback" not in json.dumps(error)
