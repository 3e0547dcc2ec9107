"""POST /ibert/chat against a real Jupyter server (pytest-jupyter)."""

from __future__ import annotations

import json

import pytest
from tornado.httpclient import HTTPClientError

from ibert_jupyter.model.errors import ModelUnavailable

pytest_plugins = ["pytest_jupyter.jupyter_server"]

UNAVAILABLE = "Devstral is not configured: set IBERT_MODEL_PATH"


def _no_model():
    raise ModelUnavailable(UNAVAILABLE)


def _table_methods(query: str, k: int):
    import ibis

    return [{"public_name": f"Table.{name}", "kind": "method"}
            for name in dir(ibis.expr.types.Table) if not name.startswith("_") and name in query.split()][:k]


@pytest.fixture
def jp_server_config():
    return {
        "ServerApp": {
            "jpserver_extensions": {"ibert_jupyter": True},
            "tornado_settings": {"ibert_chat_model_provider": _no_model, "ibert_chat_search": _table_methods},
        }
    }


async def post_chat(jp_fetch, body, **kwargs):
    return await jp_fetch("ibert", "chat", method="POST", body=body, **kwargs)


async def test_chat_refuses_unauthenticated_requests(jp_fetch):
    with pytest.raises(HTTPClientError) as err:
        await post_chat(jp_fetch, json.dumps({"question": "q"}), headers={"Authorization": ""})
    assert err.value.code == 403


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("not json", "request body is not valid JSON"),
        ('{"question": 42}', "'question' is required and must be a string"),
        ('{"question": "ok", "snapshot": "orders"}', "'snapshot' must be an object or null"),
    ],
)
async def test_bad_bodies_get_400_with_a_clear_message(jp_fetch, body, fragment):
    with pytest.raises(HTTPClientError) as err:
        await post_chat(jp_fetch, body)
    assert err.value.code == 400
    error = json.loads(err.value.response.body)["error"]
    assert error["type"] == "BadRequest" and fragment in error["message"]


async def test_model_unavailable_answer_keeps_symbols_and_tables(jp_fetch):
    snapshot = {"version": 1, "backends": [], "tables": [
        {"variable": "orders", "name": "orders", "backend": None, "dialect": None, "bound": False,
         "columns": [{"name": "o_orderkey", "type": "int64"}]}]}
    response = await post_chat(jp_fetch, json.dumps({"question": "how to filter then group_by", "snapshot": snapshot}))
    assert response.code == 200
    body = json.loads(response.body)
    assert body["status"] == "model_unavailable"
    assert body["text"].startswith(f"The model is unavailable: {UNAVAILABLE}")
    assert [s["public_name"] for s in body["symbols"]] == ["Table.filter", "Table.group_by"]
    assert body["tables"] == ["orders"]


@pytest.mark.parametrize("jp_server_config", [{"ServerApp": {"jpserver_extensions": {"ibert_jupyter": True}}}])
async def test_default_model_and_index_wiring_answers(jp_fetch, jp_server_config):
    """Without injected providers the real retrieval/model modules are used; missing ones degrade."""
    response = await post_chat(jp_fetch, json.dumps({"question": "count rows per group", "snapshot": None}))
    body = json.loads(response.body)
    assert body["status"] in {"answered", "model_unavailable"}
    if body["status"] == "model_unavailable":
        assert body["text"].startswith("The model is unavailable: ") and len(body["text"]) > 30
    assert body["symbols"] or any("index" in n.lower() or "retrieval" in n.lower() for n in body["notices"])
