"""Status routes show the server's paths only to users who may change the model config.

Real Jupyter server (pytest-jupyter); no model is loaded: the configured weights directory
does not hold a model, which is enough for the status to name it.
"""

from __future__ import annotations

import json

import pytest

from ibert_jupyter.jupyter.handlers_base import redact_paths
from tests.server.conftest import ReadOnly


@pytest.fixture
def weights_dir(tmp_path):
    path = tmp_path / "secret-volume" / "devstral-weights"
    path.mkdir(parents=True)
    return path


def _server_config(weights_dir, authorizer=None):
    server = {"jpserver_extensions": {"ibert_jupyter": True}}
    if authorizer is not None:
        server["authorizer_class"] = authorizer
    return {"ServerApp": server, "IbertModel": {"model": str(weights_dir), "adapter": str(weights_dir.parent / "lora")}}


def _strings(data):
    if isinstance(data, str):
        yield data
    elif isinstance(data, dict):
        for value in data.values():
            yield from _strings(value)
    elif isinstance(data, list):
        for value in data:
            yield from _strings(value)


class TestViewer:
    @pytest.fixture
    def jp_server_config(self, weights_dir):
        return _server_config(weights_dir, ReadOnly)

    async def test_read_only_user_sees_no_server_paths(self, jp_fetch, weights_dir):
        for route in (("ibert", "model"), ("ibert", "status")):
            raw = (await jp_fetch(*route)).body.decode()
            assert str(weights_dir.parent) not in raw, route
            leftover = [s for s in _strings(json.loads(raw)) if redact_paths(s) != s]
            assert leftover == [], (route, leftover)
        model = json.loads((await jp_fetch("ibert", "model")).body)
        assert model["model"] == "…/devstral-weights" and model["adapter"] == "…/lora"  # the names stay


class TestOperator:
    @pytest.fixture
    def jp_server_config(self, weights_dir):
        return _server_config(weights_dir)

    async def test_user_who_may_configure_the_model_sees_its_paths(self, jp_fetch, weights_dir):
        model = json.loads((await jp_fetch("ibert", "model")).body)
        assert model["model"] == str(weights_dir) and model["adapter"] == str(weights_dir.parent / "lora")
        status = json.loads((await jp_fetch("ibert", "status")).body)
        assert status["model"]["model"] == str(weights_dir)
