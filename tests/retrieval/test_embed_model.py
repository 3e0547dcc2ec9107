"""$IBERT_EMBED_MODEL: an index embedded with another sentence-transformers model, and queried with it.

The other model is a tiny randomly initialised BERT built here from a config (no weights can be
downloaded here); its tokenizer is the bundled MiniLM's. Its rankings mean nothing: the tests check
that the index is built, stored and queried in that model's space, and that a change is noticed.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from ibert_jupyter.retrieval.encode.dense import MODEL_ENV, configured_model

TINY_DIM = 32


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory, tiny_sentence_model):
    import torch
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    config = BertConfig(vocab_size=30522, hidden_size=TINY_DIM, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=512)
    return tiny_sentence_model(tmp_path_factory.mktemp("tiny-embedder"), BertModel(config))


def test_unset_means_the_bundled_model(monkeypatch):
    monkeypatch.delenv(MODEL_ENV, raising=False)
    assert configured_model() is None


def test_a_folder_without_a_model_is_named(monkeypatch, tmp_path):
    monkeypatch.setenv(MODEL_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(ValueError, match=r"IBERT_EMBED_MODEL=.*nowhere.*no modules.json"):
        configured_model()


def test_ibert_index_refuses_a_bad_model_before_building(monkeypatch, tmp_path, capsys, data_dir):
    from ibert_jupyter.cli import main

    monkeypatch.setenv(MODEL_ENV, str(tmp_path / "nowhere"))
    assert main(["index"]) == 2
    assert "is not a sentence-transformers model folder" in capsys.readouterr().err


def test_status_names_a_bad_model_and_keeps_the_index(monkeypatch, tmp_path, small_index):
    from ibert_jupyter.retrieval.index.status import index_status

    monkeypatch.setenv(MODEL_ENV, str(tmp_path / "nowhere"))
    status = index_status()
    assert status["status"] == "outdated" and MODEL_ENV in status["hint"]
    assert status["embed_model"] == "all-MiniLM-L6-v2 (bundled)"


def test_index_is_embedded_and_queried_with_the_configured_model(monkeypatch, tmp_path, tiny_model, data_dir):
    from ibert_jupyter.retrieval.index.build import build_index, outdated_reason, read_manifest
    from ibert_jupyter.retrieval.rank.retriever import Retriever

    monkeypatch.setenv(MODEL_ENV, str(tiny_model))
    index_dir = tmp_path / "index"
    build_index(patterns=("expr/types/strings.py",), examples=False, graph="ast", index_dir=index_dir,
                progress=False)
    manifest = read_manifest(index_dir)
    assert manifest["embed_model"] == str(tiny_model.resolve())
    assert outdated_reason(manifest) is None

    retriever = Retriever(index_dir)
    assert retriever.dense.shape[1] == TINY_DIM and retriever.views.vectors.shape[1] == TINY_DIM
    vector = retriever.embed("convert a string to upper case")
    assert vector.shape == (TINY_DIM,) and np.isclose(np.linalg.norm(vector), 1.0, atol=1e-3)
    assert retriever.search("convert a string to upper case", 3)

    # unsetting the variable marks the index outdated, and it keeps answering with its own model
    monkeypatch.delenv(MODEL_ENV)
    assert "bundled all-MiniLM-L6-v2" in outdated_reason(manifest)
    assert Retriever(index_dir).embed("upper case").shape == (TINY_DIM,)


def test_an_index_whose_model_is_gone_says_so(monkeypatch, tmp_path, tiny_model, data_dir):
    from ibert_jupyter.retrieval.errors import IndexUnavailable
    from ibert_jupyter.retrieval.index.build import build_index
    from ibert_jupyter.retrieval.rank.retriever import Retriever

    model = tmp_path / "model"
    shutil.copytree(tiny_model, model)
    monkeypatch.setenv(MODEL_ENV, str(model))
    monkeypatch.setenv("IBERT_DATA_DIR", str(tmp_path / "data"))  # its query-encoder export goes stale with it
    index_dir = tmp_path / "index"
    build_index(patterns=("expr/types/maps.py",), examples=False, graph="ast", index_dir=index_dir, progress=False)
    shutil.rmtree(model)
    with pytest.raises(IndexUnavailable, match=r"embedded with .*model, which is no longer there.*ibert index --force"):
        Retriever(index_dir)
