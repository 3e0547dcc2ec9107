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


def test_server_extension_is_enabled_in_this_environment():
    """The install puts iBERT's jupyter_server_config.d entry in place (as a wheel install does)."""
    import subprocess
    import sys
    from pathlib import Path

    jupyter = Path(sys.executable).with_name("jupyter")
    proc = subprocess.run([str(jupyter), "server", "extension", "list"], capture_output=True, text=True, timeout=120)
    out = proc.stdout + proc.stderr
    assert "ibert_jupyter" in out and "ibert_jupyter 0.1.0" in out and "OK" in out
