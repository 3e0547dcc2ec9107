"""POST /ibert/complete and POST /ibert/model/config on a real Jupyter server.

Completions come from a SCRIPTED model (fixed text) made the loaded model; verification is
the real verify() against unbound tables rebuilt from the snapshot.
"""

from __future__ import annotations

import json

import pytest
from tornado.httpclient import HTTPClientError

from ibert_jupyter.model import runtime
from ibert_jupyter.model.config import ModelSettings
from tests.model.conftest import ScriptedChatModel
from tests.server.conftest import ORDERS_SNAPSHOT, error_of


async def complete(jp_fetch, prefix, suffix="", snapshot=ORDERS_SNAPSHOT):
    response = await jp_fetch("ibert", "complete", method="POST",
                              body=json.dumps({"prefix": prefix, "suffix": suffix, "snapshot": snapshot}))
    return json.loads(response.body)


@pytest.mark.parametrize(("answer", "verified"), [
    ("agg(n=orders.count())", True),
    ("```python\nagg(n=orders.count())\n```", True),  # a fenced answer is unwrapped
    ("agg(total=orders.o_missing.sum())", False),  # a column the table does not have
])
async def test_completion_is_verified_only_when_the_statement_verifies(jp_fetch, answer, verified):
    model = ScriptedChatModel([answer])
    with runtime.use_model(model):
        result = await complete(jp_fetch, "per_status = orders.group_by('o_orderstatus').")
    assert set(result) == {"completion", "verified", "verification"}
    assert result["completion"] == "agg(n=orders.count())" if verified else result["completion"].startswith("agg(")
    assert result["verified"] is verified and result["verification"]["ok"] is verified
    if verified:
        assert result["verification"]["verified_against"] == ["orders (unbound)"]
    else:
        assert "o_missing" in result["verification"]["message"]
    prompt = model.requests[0].messages[-1]["content"]
    assert "<CURSOR>" in prompt and "o_orderstatus: string" in prompt  # the cell and the kernel's schemas


async def test_completion_checks_the_statement_with_the_cell_code_before_it(jp_fetch):
    with runtime.use_model(ScriptedChatModel(["count()"])):
        result = await complete(jp_fetch, "big = orders.filter(orders.o_totalprice > 1000)\nbig.",
                                "\nprint('done')")
    assert result["verified"] is True
    assert result["verification"]["code"] == "big = orders.filter(orders.o_totalprice > 1000)\nbig.count()"


async def test_completion_of_a_statement_that_cannot_be_checked_is_not_verified(jp_fetch):
    with runtime.use_model(ScriptedChatModel(["count("])):  # still open: no statement to check
        result = await complete(jp_fetch, "orders.")
    assert result == {"completion": "count(", "verified": False, "verification": None}
    with runtime.use_model(ScriptedChatModel(["count()"])):  # no tables in the kernel
        result = await complete(jp_fetch, "orders.", snapshot=None)
    assert result["verified"] is False and result["verification"] is None


async def test_no_model_is_503_and_a_local_model_is_never_loaded_by_a_keystroke(jp_fetch, tmp_path, tiny_devstral):
    runtime.configure(ModelSettings(model=str(tmp_path / "absent"), device="cpu"))
    with pytest.raises(HTTPClientError) as missing:
        await complete(jp_fetch, "orders.")
    assert missing.value.code == 503 and error_of(missing.value)["type"] == "ModelUnavailable"
    runtime.configure(ModelSettings(model=str(tiny_devstral["weights"]), device="cpu"))
    with pytest.raises(HTTPClientError) as not_loaded:
        await complete(jp_fetch, "orders.")
    assert not_loaded.value.code == 503 and "not loaded yet" in error_of(not_loaded.value)["message"]
    assert runtime.loaded_model() is None


@pytest.mark.parametrize(("body", "fragment"), [
    ({"suffix": ""}, "'prefix' and 'suffix' must be strings"),
    ({"prefix": "x", "cursor": 3}, "unknown field(s) in completion request: cursor"),
    ({"prefix": "x" * 30_000}, "the limit is 20000"),
    ({"prefix": "x", "snapshot": {"tables": [{"variable": "t", "columns": 5}]}}, "'snapshot.tables[0]' is malformed"),
])
async def test_bad_completion_requests_get_400(jp_fetch, body, fragment):
    with pytest.raises(HTTPClientError) as bad:
        await jp_fetch("ibert", "complete", method="POST", body=json.dumps(body))
    assert bad.value.code == 400 and fragment in error_of(bad.value)["message"]


async def _config(jp_fetch, body):
    return json.loads((await jp_fetch("ibert", "model", "config", method="POST", body=json.dumps(body))).body)


async def test_model_config_applies_without_restart(jp_fetch, tiny_devstral, tmp_path):
    status = await _config(jp_fetch, {"model_path": str(tiny_devstral["weights"]), "n": 3, "rounds": 1})
    assert status == json.loads((await jp_fetch("ibert", "model")).body)  # the same object as GET /ibert/model
    assert status["backend"] == "local" and status["status"] == "available" and (status["n"], status["rounds"]) == (3, 1)
    loaded = json.loads((await jp_fetch("ibert", "model", "load", method="POST", body="{}")).body)
    assert loaded["loaded"] is True
    same = await _config(jp_fetch, {"quantization": "bf16"})  # nothing changes: the model stays loaded
    assert same["loaded"] is True
    moved = await _config(jp_fetch, {"endpoint": {"url": "http://127.0.0.1:9/v1", "model": "ibert"}})
    assert moved["backend"] == "openai" and moved["endpoint_model"] == "ibert" and moved["loaded"] is False
    assert runtime.loaded_model() is None  # the old weights were dropped
    # generation without n uses the configured default
    model = ScriptedChatModel(["```python\norders.count()\n```"] * 3)
    with runtime.use_model(model):
        response = await jp_fetch("ibert", "generate", method="POST",
                                  body=json.dumps({"prompt": "count orders", "snapshot": ORDERS_SNAPSHOT}))
    result = [json.loads(line) for line in response.body.decode().splitlines()][-1]["result"]
    assert len(result["candidates"]) == 3 and result["verified"] is True


@pytest.mark.parametrize(("body", "fragment"), [
    ({"quantization": "int3"}, "'quantization' must be one of bf16, nf4"),
    ({"model_path": ""}, "'model_path' must be a non-empty string"),
    ({"model_path": "m", "endpoint": {"url": "http://x/v1", "model": "m"}}, "not both"),
    ({"endpoint": {"url": "file:///etc/passwd", "model": "m"}}, "must be an http(s) URL"),
    ({"n": 0}, "'n' must be an integer from 1 to 16"),
    ({"rounds": True}, "'rounds' must be an integer from 1 to 5"),
    ({"device": "cuda"}, "unknown field(s) in model config: device"),
])
async def test_bad_model_config_is_400_and_changes_nothing(jp_fetch, body, fragment):
    before = json.loads((await jp_fetch("ibert", "model")).body)
    with pytest.raises(HTTPClientError) as bad:
        await jp_fetch("ibert", "model", "config", method="POST", body=json.dumps(body))
    assert bad.value.code == 400 and fragment in error_of(bad.value)["message"]
    assert json.loads((await jp_fetch("ibert", "model")).body) == before


class UntilCancelled:
    """SCRIPTED: the first request decodes ' x' tokens until it is cancelled (at most 20 s); later ones
    answer at once."""

    name = "scripted-until-cancelled"

    def __init__(self):
        self.calls = 0
        self.first_outcome = None

    def generate(self, request, on_token=None):
        import time

        from ibert_jupyter.model import Completion
        from ibert_jupyter.model.cancel import Cancelled

        self.calls += 1
        if self.calls > 1:
            return [Completion(text="count()")]
        deadline = time.monotonic() + 20
        try:
            while time.monotonic() < deadline:
                on_token(0, " x")
                time.sleep(0.01)
        except Cancelled:
            self.first_outcome = "cancelled"
            raise
        self.first_outcome = "ran out"
        return [Completion(text="never")]


async def test_a_newer_completion_cancels_the_running_one(jp_fetch):
    import asyncio

    model = UntilCancelled()
    with runtime.use_model(model):
        first = asyncio.ensure_future(complete(jp_fetch, "orders."))
        while model.calls == 0:
            await asyncio.sleep(0.01)
        second = await complete(jp_fetch, "orders.")
        with pytest.raises(HTTPClientError) as cancelled:
            await first
    assert model.first_outcome == "cancelled"
    assert cancelled.value.code == 409 and error_of(cancelled.value)["type"] == "Cancelled"
    assert second["completion"] == "count()" and second["verified"] is True
