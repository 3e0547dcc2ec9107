"""IbisBench backends are a lazy name -> "module:Class" table: reading it loads no model."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ibert_jupyter.evaluation.ibisbench.backends import BACKENDS, GoldBackend, ReplayBackend, make_backend


def test_importing_the_table_imports_no_model():
    code = ("import sys; from ibert_jupyter.evaluation.ibisbench.backends import BACKENDS; "
            "heavy = [m for m in ('torch', 'transformers', 'httpx', 'ibert_jupyter.model.runtime') if m in sys.modules]; "
            "print(sorted(BACKENDS), heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['gold', 'local', 'openai', 'replay', 'scripted'] []"


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
