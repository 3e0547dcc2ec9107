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
    from ibert_jupyter.retrieval.build import build_index

    return build_index(patterns=SMALL_MODULES, examples=True, graph="ast", progress=False)
