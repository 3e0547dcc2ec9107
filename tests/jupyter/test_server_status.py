"""GET /ibert/status against a real Jupyter server (pytest-jupyter)."""

from __future__ import annotations

import json

import pytest
from tornado.httpclient import HTTPClientError

import ibert_jupyter

pytest_plugins = ["pytest_jupyter.jupyter_server"]


@pytest.fixture
def jp_server_config():
    return {"ServerApp": {"jpserver_extensions": {"ibert_jupyter": True}}}


async def test_status_reports_versions_model_and_index(jp_fetch):
    response = await jp_fetch("ibert", "status")
    assert response.code == 200
    body = json.loads(response.body)
    assert body["version"] == ibert_jupyter.__version__
    assert body["ibis_version"] == "12.0.0"
    assert "status" in body["model"]
    assert "status" in body["index"]


async def test_status_refuses_unauthenticated_requests(jp_fetch):
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch("ibert", "status", headers={"Authorization": ""})
    assert err.value.code == 403
