"""Model backends come from a lazy name -> "module:Class" table (laziness: tests/test_lazy_tables.py)."""

from __future__ import annotations

import pytest

from ibert_jupyter.model import runtime
from ibert_jupyter.model.config import BACKENDS, ModelSettings
from ibert_jupyter.registry import load


@pytest.mark.parametrize("name", sorted(BACKENDS))
def test_every_entry_is_a_chat_model_class_built_from_settings(name):
    cls = load(BACKENDS, name, "model backend")
    assert isinstance(cls, type) and callable(cls.from_settings) and callable(cls.generate)


def test_the_openai_entry_builds_through_the_table(tmp_path):
    settings = ModelSettings(backend="openai", endpoint="http://127.0.0.1:9/v1", endpoint_model="m",
                             log_path=tmp_path / "log.sqlite")
    model = runtime.build_model(settings)
    assert model.name == "openai:http://127.0.0.1:9/v1/m"


def test_an_unknown_backend_names_the_known_ones():
    with pytest.raises(ValueError, match=r"IBERT_BACKEND must be one of local, openai, got 'vllm'"):
        ModelSettings(backend="vllm")
    with pytest.raises(ValueError, match=r"unknown model backend 'vllm'; known: local, openai"):
        load(BACKENDS, "vllm", "model backend")
