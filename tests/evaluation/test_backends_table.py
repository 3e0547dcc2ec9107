"""IbisBench backends come from a lazy name -> "module:Class" table (laziness: tests/test_lazy_tables.py)."""

from __future__ import annotations

import pytest

from ibert_jupyter.evaluation.ibisbench.backends import GoldBackend, ReplayBackend, make_backend


def test_backends_are_built_from_the_table(tmp_path, monkeypatch):
    assert isinstance(make_backend("gold"), GoldBackend)
    replay = tmp_path / "answers.jsonl"
    replay.write_text('{"id": "tpch-001", "text": "t"}\n')
    assert isinstance(make_backend("replay", replay=str(replay)), ReplayBackend)
    monkeypatch.delenv("IBERT_BACKEND", raising=False)
    monkeypatch.delenv("IBERT_OPENAI_BASE_URL", raising=False)
    with pytest.raises(ValueError, match="--backend openai needs IBERT_OPENAI_BASE_URL"):
        make_backend("openai")
    with pytest.raises(ValueError, match="--backend replay needs --replay FILE"):
        make_backend("replay")
    with pytest.raises(ValueError, match="built in code"):
        make_backend("scripted")


def test_an_unknown_backend_names_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown backend 'vllm'; known: local, openai, replay, gold, scripted"):
        make_backend("vllm")
