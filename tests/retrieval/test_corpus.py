"""The corpus is read from the installed ibis source; the labeled queries point at real symbols."""

from __future__ import annotations

import json

import pytest

from ibert_jupyter.evaluation.bench_retrieval import default_queries_path, heldout_queries_path, load_queries, metrics
from ibert_jupyter.retrieval.corpus.chunks import build_corpus, public_module_files


@pytest.fixture(scope="module")
def corpus():
    return {c.id: c for c in build_corpus()}


def test_method_chunk_carries_signature_doc_and_examples(corpus):
    chunk = corpus["ibis.expr.types.relations.Table.group_by"]
    assert chunk.kind == "method" and chunk.public_name == "Table.group_by"
    assert chunk.signature.startswith("(self") and "GroupedTable" in chunk.signature
    assert chunk.summary == "Create a grouped table expression."
    assert "group_by" in chunk.examples  # doctest lines
    assert chunk.parent == "ibis.expr.types.relations.Table"
    assert chunk.file.endswith("ibis/expr/types/relations.py") and chunk.line > 1
    assert chunk.name_path == "Table/group_by"


def test_overloaded_methods_are_indexed_by_their_implementation(corpus):
    # Value.cast has typing.overload stubs (no docstring, one narrowed signature) before the real def
    cast = corpus["ibis.expr.types.generic.Value.cast"]
    assert cast.summary == "Cast expression to indicated data type."
    assert "Literal" not in cast.signature and "target_type" in cast.signature
    assert corpus["ibis.expr.api.timestamp"].summary  # overloaded top-level function too


def test_api_functions_are_spelled_as_users_call_them(corpus):
    assert corpus["ibis.expr.api.memtable"].public_name == "ibis.memtable"
    assert corpus["ibis.expr.types.generic.literal"].public_name == "ibis.literal"  # re-exported by api.py
    assert corpus["ibis.selectors.across"].public_name == "ibis.selectors.across"


def test_private_mixins_are_named_after_their_public_class(corpus):
    assert corpus["ibis.expr.types.temporal._DateComponentMixin.year"].public_name == "DateValue.year"
    assert not any(c.name.startswith("_") and c.name not in ("__getitem__", "__getattr__", "__call__")
                   for c in corpus.values() if c.kind in ("method", "function", "property"))


def test_examples_are_the_tpc_reference_programs(corpus):
    examples = [c for c in corpus.values() if c.kind == "example"]
    assert len(examples) >= 22 + 90
    assert any(".group_by(" in c.doc for c in examples)


def test_public_module_files_reject_bad_patterns(tmp_path):
    with pytest.raises(FileNotFoundError, match="no public ibis modules"):
        public_module_files(tmp_path, ("nothing/*.py",))


@pytest.mark.parametrize("path, least", [(default_queries_path(), 100), (heldout_queries_path(), 90)],
                         ids=["labeled", "heldout"])
def test_labeled_queries_are_many_unique_and_point_at_real_symbols(corpus, path, least):
    queries = load_queries(path)
    assert len(queries) >= least
    assert len({q["query"].lower() for q in queries}) == len(queries)
    missing = [r for q in queries for r in q["relevant"] if r not in corpus]
    assert missing == []


def test_the_held_out_set_asks_none_of_the_labeled_questions():
    from ibert_jupyter.retrieval.encode.sparse import similar

    labeled = [q["query"] for q in load_queries(default_queries_path())]
    held_out = [q["query"] for q in load_queries(heldout_queries_path())]
    assert [(h, q) for h in held_out for q in labeled if similar(h, q)] == []


def test_load_queries_names_the_bad_line(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text(json.dumps({"query": "x", "relevant": ["a"]}) + "\n" + json.dumps({"query": "y"}) + "\n")
    with pytest.raises(ValueError, match=r"q.jsonl:2"):
        load_queries(path)


def test_metrics_by_hand():
    m = metrics(["a", "b", "c"], {"b", "z"})
    assert m["recall_at_5"] == 0.5 and m["mrr"] == 0.5 and m["hit_at_5"] == 1.0
    # dcg = 1/log2(3); idcg = 1 + 1/log2(3)
    assert m["ndcg_at_10"] == pytest.approx((1 / 1.5849625) / (1 + 1 / 1.5849625), rel=1e-6)
    assert metrics(["x"], {"b"}) == {"recall_at_5": 0.0, "mrr": 0.0, "ndcg_at_10": 0.0, "hit_at_5": 0.0}
