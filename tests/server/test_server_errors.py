"""The one exception -> status table and the path scrubbing every error message goes through."""

from __future__ import annotations

import pytest
from tornado.web import HTTPError

from ibert_jupyter.chat import ChatRequestError
from ibert_jupyter.jupyter.handlers_base import BadRequest, PayloadTooLarge, classify, redact_paths
from ibert_jupyter.model.cancel import Cancelled
from ibert_jupyter.model.errors import ModelUnavailable
from ibert_jupyter.retrieval.errors import IndexUnavailable


@pytest.mark.parametrize(("exc", "status", "kind"), [
    (BadRequest("'n' must be an integer"), 400, "BadRequest"),
    (ChatRequestError("'question' is empty"), 400, "BadRequest"),
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
