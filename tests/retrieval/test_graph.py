"""Symbol graph: solidlsp + pyright through Serena's venv, and the AST fallback."""

from __future__ import annotations

import pytest

from ibert_jupyter.retrieval.corpus.chunks import build_corpus
from ibert_jupyter.retrieval.corpus.graph import SymbolGraph, build_graph, graph_from_ast
from ibert_jupyter.retrieval.paths import ibis_source_dir

MODULES = ("selectors.py", "common/selectors.py")


@pytest.fixture(scope="module")
def chunks():
    return build_corpus(MODULES, examples=False)


def test_ast_graph_has_membership_inheritance_and_references(chunks, tmp_path):
    g = graph_from_ast(chunks, ibis_source_dir())
    edges = set(g.edges)
    assert ("ibis.selectors.Where.expand_names", "member", "ibis.selectors.Where") in edges
    assert ("ibis.selectors.Where", "inherits", "ibis.common.selectors.Selector") in edges
    assert any(kind == "references" for _, kind, _ in edges)
    g.save(tmp_path / "g.json")
    again = SymbolGraph.load(tmp_path / "g.json")
    assert again.edges == g.edges and again.prior("ibis.common.selectors.Selector") > 0


def test_missing_serena_degrades_to_ast_and_says_why(chunks, tmp_path, monkeypatch):
    monkeypatch.setenv("IBERT_SERENA_PYTHON", str(tmp_path / "no-such-python"))
    g = build_graph(chunks, ibis_source_dir(), work_dir=tmp_path, prefer="serena")
    assert g.source == "ast"
    assert "solidlsp unavailable" in g.note and "no-such-python" in g.note


@pytest.mark.slow
def test_serena_solidlsp_graph_offline(chunks, tmp_path):
    """Real pyright (node) driven by solidlsp in .venv-serena, two modules: ~15-40 s."""
    from ibert_jupyter.retrieval.corpus.serena_runner import SerenaUnavailable, serena_python

    try:
        serena_python()
    except SerenaUnavailable as exc:  # pragma: no cover - CI installs it via scripts/install.sh
        pytest.skip(str(exc))
    cache = tmp_path / "raw.json"
    g = build_graph(chunks, ibis_source_dir(), work_dir=tmp_path, prefer="serena", raw_cache=cache)
    assert g.source == "solidlsp+pyright", g.note
    edges = set(g.edges)
    assert ("ibis.selectors.Where", "inherits", "ibis.common.selectors.Selector") in edges
    refs = [(s, d) for s, k, d in g.edges if k == "references"]
    assert refs, "pyright should find references between selector functions"
    assert g.ref_counts.get("ibis.common.selectors.Selector", 0) > 5
    assert g.stats["requests"] > 0 and cache.exists()
    # the raw answer is cached: a second build re-maps it without starting pyright
    again = build_graph(chunks, ibis_source_dir(), work_dir=tmp_path, prefer="serena", raw_cache=cache)
    assert again.stats.get("cached") and set(again.edges) == edges
