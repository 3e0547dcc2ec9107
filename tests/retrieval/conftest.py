"""A small real index (a few ibis modules, real MiniLM, real Qdrant local mode) shared by the session."""

from __future__ import annotations

import os

import pytest

SMALL_MODULES = ("expr/api.py", "expr/types/relations.py", "expr/types/strings.py", "expr/types/groupby.py")


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory):
    """IBERT_DATA_DIR pointed at a fresh folder for the whole session (restored afterwards)."""
    path = tmp_path_factory.mktemp("ibert-data")
    old = os.environ.get("IBERT_DATA_DIR")
    os.environ["IBERT_DATA_DIR"] = str(path)
    yield path
    if old is None:
        os.environ.pop("IBERT_DATA_DIR", None)
    else:
        os.environ["IBERT_DATA_DIR"] = old


@pytest.fixture(scope="session")
def small_index(data_dir):
    """Build the index over SMALL_MODULES with the AST graph (the solidlsp graph has its own test)."""
    from ibert_jupyter.retrieval.index.build import build_index

    return build_index(patterns=SMALL_MODULES, examples=True, graph="ast", progress=False)


@pytest.fixture(scope="session")
def tiny_sentence_model():
    """The builder below, for tests that need an embedder other than the bundled one."""
    return _tiny_sentence_model


def _tiny_sentence_model(root, model, *, token_types: bool = True, max_seq_length: int = 128):
    """A sentence-transformers folder (``root/st``) around ``model``, a transformers model randomly
    initialised from a config (no weights can be downloaded here), with the bundled MiniLM's
    vocabulary, mean pooling and normalisation. ``token_types=False``: its tokenizer emits none, as MPNet's."""
    import json
    import shutil

    from sentence_transformers import SentenceTransformer
    from sentence_transformers.models import Normalize, Pooling, Transformer

    from ibert_jupyter.retrieval.encode.models import base_model_path

    encoder_dir = root / "encoder"
    encoder_dir.mkdir()
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        if (base_model_path() / name).exists():
            shutil.copy(base_model_path() / name, encoder_dir / name)
    if not token_types:
        config_file = encoder_dir / "tokenizer_config.json"
        config_file.write_text(json.dumps({**json.loads(config_file.read_text()),
                                           "model_input_names": ["input_ids", "attention_mask"]}))
    model.save_pretrained(encoder_dir)
    width = model.config.hidden_size
    out = root / "st"
    SentenceTransformer(modules=[Transformer(str(encoder_dir), max_seq_length=max_seq_length),
                                 Pooling(width, "mean"), Normalize()], device="cpu").save(str(out))
    return out
