"""Build a small real index offline (MiniLM from its wheel, Qdrant local mode) and search it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ibert_jupyter import retrieval
from ibert_jupyter.retrieval import paths
from ibert_jupyter.retrieval.errors import IndexUnavailable
from ibert_jupyter.retrieval.index.status import index_status
from ibert_jupyter.retrieval.rank.retriever import Retriever, get_retriever

pytestmark = pytest.mark.slow  # the shared session index takes ~20-60 s to embed on 2 cores


def test_build_writes_manifest_and_qdrant_store(small_index):
    index_dir = paths.index_dir()
    manifest = json.loads((index_dir / "manifest.json").read_text())
    assert manifest["ibis_version"] == paths.ibis_version()
    assert manifest["chunks"] == small_index.chunks > 250
    assert manifest["graph_source"] == "ast" and manifest["qdrant"]["path"].startswith(str(index_dir))
    assert (index_dir / "qdrant").is_dir() and (index_dir / "bm25.json").exists()
    assert set(manifest["timings"]) >= {"corpus", "graph", "bm25", "dense", "store"}


def test_search_api_finds_the_symbol_with_its_signature_and_source(small_index):
    hits = retrieval.search("group_by: create a grouped table expression", k=5)
    assert 1 <= len(hits) <= 5
    names = [h.public_name for h in hits]
    assert "Table.group_by" in names, names
    hit = hits[names.index("Table.group_by")]
    assert hit.signature.startswith("(self") and hit.path.endswith("ibis/expr/types/relations.py")
    assert hit.url.startswith("file://") and f"#L{hit.line}" in hit.url
    assert all(h.kind != "example" for h in hits)  # examples vote, symbols are returned


@pytest.mark.parametrize("mode", ["bm25", "dense", "hybrid", "hybrid_graph"])
def test_every_mode_ranks_an_obvious_query(small_index, mode):
    hits = get_retriever().search("replace text matching a regular expression", 5, mode=mode)
    assert "StringValue.re_replace" in [h.public_name for h in hits]


def test_scores_are_sorted_and_k_is_respected(small_index):
    hits = get_retriever().search("join two tables", 3)
    assert len(hits) == 3
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_graph_neighbours_expand_a_hit(small_index):
    r = get_retriever()
    hit = next(h for h in r.search("group_by: create a grouped table expression", 10) if h.public_name == "Table.group_by")
    context = r.context(hit)
    assert context, "a method should have graph neighbours"
    assert all(c.id != hit.id for c in context)


def test_bad_queries_get_clear_errors(small_index):
    r = get_retriever()
    with pytest.raises(ValueError, match="non-empty"):
        r.search("   ")
    with pytest.raises(ValueError, match="k must be"):
        r.search("filter", 0)
    with pytest.raises(ValueError, match="unknown search mode"):
        r.search("filter", 3, mode="magic")


def test_status_reports_the_built_index_without_building(small_index):
    status = index_status()
    assert status["status"] == "degraded"  # AST graph, and status says so
    assert status["graph"] == "ast" and status["chunks"] == small_index.chunks
    assert status["glossary_symbols"] > 20  # the glossary's symbols among the small index's modules


def test_other_ibis_version_has_no_index(small_index, monkeypatch):
    monkeypatch.setattr(paths, "ibis_version", lambda: "99.0.0")
    assert index_status()["status"] == "missing"
    assert "ibis-12" in " ".join(index_status()["stale_indexes"]) or index_status()["stale_indexes"]
    with pytest.raises(IndexUnavailable, match="ibert index"):
        Retriever(paths.index_dir("99.0.0"))


def test_an_index_of_an_older_format_is_reported_outdated(small_index, monkeypatch):
    from ibert_jupyter.retrieval.index.build import FORMAT_VERSION

    monkeypatch.setattr(paths, "ibis_version", lambda: "98.0.0")
    old = paths.index_dir("98.0.0")
    old.mkdir(parents=True)
    manifest = json.loads((Path(small_index.index_dir) / "manifest.json").read_text())
    (old / "manifest.json").write_text(json.dumps({**manifest, "format": FORMAT_VERSION - 1}))
    status = index_status()
    assert status["status"] == "outdated" and "ibert index" in status["hint"]


def test_an_index_built_with_another_glossary_is_reported_outdated(small_index, monkeypatch):
    from ibert_jupyter.retrieval.index.build import outdated_reason

    manifest = json.loads((Path(small_index.index_dir) / "manifest.json").read_text())
    assert outdated_reason(manifest) is None and manifest["aliased_symbols"] > 20
    reason = outdated_reason({**manifest, "aliases": "0123456789ab"})
    assert reason and "aliases.json" in reason


def test_index_command_skips_an_up_to_date_index(small_index, capsys):
    from ibert_jupyter.cli import main

    assert main(["index", "--json"]) == 0
    out = capsys.readouterr()
    assert "up to date" in out.err
    assert json.loads(out.out.strip().splitlines()[-1])["rebuilt"] is False


def test_index_has_views_and_the_fine_tuned_retriever_goes_without(small_index):
    from ibert_jupyter.retrieval.index.views import KINDS
    from ibert_jupyter.retrieval.rank.ranking import WEIGHTS, weight_vector

    retriever = Retriever()
    assert retriever.views is not None and retriever.views.n_chunks == len(retriever.chunks)
    sql_views = retriever.views.texts[retriever.views.kind == KINDS.index("sql")]
    assert any("lower case" in t for t in sql_views)  # StringValue.lower -> DuckDB's `lower`
    assert "views" in json.loads((paths.index_dir() / "manifest.json").read_text())["timings"]
    assert (retriever.weights["hybrid_graph"] == weight_vector(WEIGHTS["hybrid_graph"])).all()
    hits = retriever.search("stack the rows of two tables", k=5)
    assert 1 <= len(hits) <= 5


def test_outside_dev_queries_leave_every_symbols_sql_and_peer_views_out(small_index):
    from ibert_jupyter.retrieval.index.views import KINDS
    from ibert_jupyter.retrieval.tuning.weights import OUTSIDE_KINDS, outside_queries, prepare

    retriever = Retriever()
    items = outside_queries(retriever, exclude=[])
    assert items and all(it["relevant"] and set(it["relevant"]) <= set(retriever.row) for it in items)
    lower = next(it for it in items if "lower case" in it["query"])  # DuckDB's `lower`, on StringValue.lower
    assert lower["relevant"] == ["ibis.expr.types.strings.StringValue.lower"]
    prepared = prepare(retriever, [lower])[0]
    assert (prepared["views"][[KINDS.index(k) for k in OUTSIDE_KINDS]] == -1).all()
    assert (prepared["bm25"] == retriever.bm25_scores(lower["query"])).all()  # nothing to hold out of BM25
    alias = KINDS.index("alias")  # the glossary is ours, not another author's: it stays visible
    assert "alias" not in OUTSIDE_KINDS and (prepared["views"][alias] > -1).any()
    assert not any(it["query"] in set(retriever.views.texts[retriever.views.kind == alias]) for it in items)


def test_the_index_holds_every_glossary_phrase_of_its_symbols(small_index):
    from ibert_jupyter.retrieval.corpus import aliases
    from ibert_jupyter.retrieval.index.views import KINDS

    retriever = Retriever()
    alias = retriever.views.kind == KINDS.index("alias")
    indexed = {(retriever.chunks[int(o)].id, str(t)) for o, t in zip(retriever.views.owner[alias],
                                                                     retriever.views.texts[alias])}
    wanted = {(name, p) for name, phrases in aliases.load().items() if name in retriever.row for p in phrases}
    assert wanted and indexed == wanted
