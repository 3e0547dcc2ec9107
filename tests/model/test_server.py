"""Server extension routes against a real Jupyter server (pytest-jupyter), hosting the
FAKE tiny Devstral (random weights, see conftest) through the production loader."""

from __future__ import annotations

import json

import pytest
import tornado.httpclient

from ibert_jupyter.context import schema_snapshot
from ibert_jupyter.model import runtime
from ibert_jupyter.model.config import ModelSettings

pytest_plugins = ["pytest_jupyter.jupyter_server"]


def _events(body: bytes) -> list[dict]:
    return [json.loads(line) for line in body.decode().splitlines() if line.strip()]


async def test_routes_require_authentication(jp_fetch, jp_http_port, jp_base_url):
    client = tornado.httpclient.AsyncHTTPClient()
    for path, method in (("ibert/model", "GET"), ("ibert/generate", "POST")):
        resp = await client.fetch(f"http://127.0.0.1:{jp_http_port}{jp_base_url}{path}", method=method,
                                  body=b"{}" if method == "POST" else None, raise_error=False)
        assert resp.code == 403, path


async def test_status_reports_configured_model_without_loading(jp_fetch, tiny_devstral):
    resp = await jp_fetch("ibert", "model")
    status = json.loads(resp.body)
    assert status["status"] == "available" and status["loaded"] is False
    assert status["weights"] == str(tiny_devstral["weights"])


async def test_bad_requests_get_clear_errors(jp_fetch):
    for body, needle in ((b"not json", "not valid JSON"), (b'{"prompt": ""}', "prompt"),
                         (b'{"prompt": "x", "n": 99}', "'n'"),
                         (b'{"prompt": "x", "snapshot": {"tables": [{"variable": "t"}]}}', "malformed")):
        with pytest.raises(tornado.httpclient.HTTPClientError) as info:
            await jp_fetch("ibert", "generate", method="POST", body=body)
        assert info.value.code == 400
        error = json.loads(info.value.response.body)["error"]
        assert error["type"] == "BadRequest" and needle in error["message"]


async def test_missing_model_is_503_with_instructions(jp_fetch, tmp_path):
    runtime.configure(ModelSettings(model=str(tmp_path / "absent"), device="cpu"))
    with pytest.raises(tornado.httpclient.HTTPClientError) as info:
        await jp_fetch("ibert", "generate", method="POST", body=json.dumps({"prompt": "count"}))
    assert info.value.code == 503
    error = json.loads(info.value.response.body)["error"]
    assert error["type"] == "ModelUnavailable" and "IBERT_MODEL" in error["message"]
    assert str(tmp_path) not in error["message"]  # no server paths in error messages


async def test_generate_streams_progress_and_result(jp_fetch, tpch_con):
    snapshot = schema_snapshot({"orders": tpch_con.table("orders")})
    body = {"prompt": "count orders", "snapshot": snapshot, "n": 2, "rounds": 1, "max_new_tokens": 8}
    resp = await jp_fetch("ibert", "generate", method="POST", body=json.dumps(body))
    assert resp.headers["Content-Type"].startswith("application/x-ndjson")
    events = _events(resp.body)
    kinds = [e["event"] for e in events]
    assert kinds[0] == "queued" and kinds[-1] == "result"
    assert "round" in kinds and kinds.count("candidate") == 2
    result = events[-1]["result"]
    assert len(result["candidates"]) == 2
    # random weights produce noise: the server must say so rather than pretend
    assert result["verified"] is False and result["best"] is None
    assert all(c["report"]["verified_against"] == ["orders (unbound)"] for c in result["candidates"])
    status = json.loads((await jp_fetch("ibert", "model")).body)
    assert status["loaded"] is True
