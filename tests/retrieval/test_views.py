"""Multi-vector views: which short texts a symbol gets, and max-sim per kind with a held-out view."""

from __future__ import annotations

import numpy as np
import pytest

from ibert_jupyter.retrieval.corpus.chunks import Chunk
from ibert_jupyter.retrieval.index.views import KINDS, ViewIndex, humanise, symbol_views
from ibert_jupyter.retrieval.rank.ranking import FEATURES, WEIGHTS, WEIGHTS_NO_VIEWS, features, weight_vector

DOC = """Compute the multiset (or set) union of multiple table expressions.

The input tables must have identical schemas. Rows of every table are kept.

Parameters
----------
table
    A table expression
distinct
    Use multiset union (False) or set union (True). See examples.

Returns
-------
Table
    A new table containing the union of all input tables."""


def _chunk(**kw) -> Chunk:
    base = dict(id="ibis.expr.types.relations.Table.union", kind="method", name="union", public_name="Table.union",
                module="ibis.expr.types.relations", file="ibis/expr/types/relations.py", line=1, end_line=2,
                summary="Compute the multiset (or set) union of multiple table expressions.", doc=DOC)
    return Chunk(**{**base, **kw})


def test_humanise_splits_classes_and_snake_case():
    assert humanise("Table.union") == "table union"
    assert humanise("NumericColumn.sum") == "numeric column sum"
    assert humanise("ibis.selectors.across") == "selectors across"
    assert humanise("Table.group_by") == "table group by"


def test_symbol_views_cover_name_summary_body_and_parameters():
    views = symbol_views(_chunk())
    assert views[:2] == [("name", "table union"), ("summary", _chunk().summary)]
    assert ("body", "The input tables must have identical schemas.") in views
    assert ("param", "Use multiset union (False) or set union (True).") in views
    assert ("param", "A new table containing the union of all input tables.") in views
    assert symbol_views(_chunk(kind="example")) == []
    assert symbol_views(_chunk(summary="", doc="")) == [("name", "table union")]


def _index() -> ViewIndex:
    vecs = np.eye(4, dtype=np.float32)
    # row 0: name view = e0, body views e1 ("a") and e2 ("b"); row 2: param view e3; row 1 has none
    return ViewIndex(vecs, np.asarray([0, 0, 0, 2]), np.asarray([0, 2, 2, 3], dtype=np.int8),
                     np.asarray(["n", "a", "b", "p"]), n_chunks=3)


def test_kind_scores_take_the_best_view_per_kind_and_hold_one_out():
    index = _index()
    q = np.asarray([0.1, 0.9, 0.5, 0.3], dtype=np.float32)
    s = index.kind_scores(q)
    assert s.shape == (len(KINDS), 3)
    assert s[KINDS.index("body"), 0] == pytest.approx(0.9) and s[KINDS.index("name"), 0] == pytest.approx(0.1)
    assert s[KINDS.index("param"), 2] == pytest.approx(0.3) and (s[:, 1] == -1).all()
    held = index.kind_scores(q, hold_out=(0, "a"))
    assert held[KINDS.index("body"), 0] == pytest.approx(0.5)


def test_view_index_round_trips(tmp_path):
    index = _index()
    index.save(tmp_path / "views.npz")
    again = ViewIndex.load(tmp_path / "views.npz")
    q = np.asarray([0.2, 0.4, 0.6, 0.8], dtype=np.float32)
    assert np.allclose(again.kind_scores(q), index.kind_scores(q), atol=1e-3) and again.n_chunks == 3


def test_chunks_without_views_give_an_empty_index_of_the_model_width():
    from ibert_jupyter.retrieval.encode.dense import DIMENSION

    example = _chunk(id="tpch.q01", kind="example", name="q01", public_name="tpch.q01")
    index = ViewIndex.build([example])
    assert index.vectors.shape == (0, DIMENSION) and index.n_chunks == 1
    assert index.kind_scores(np.ones(DIMENSION, np.float32) / DIMENSION ** 0.5).max() == -1.0


def test_view_features_are_zero_without_views_and_weights_cover_them():
    from scipy.sparse import csc_matrix

    from ibert_jupyter.retrieval.rank.ranking import ChunkFeatures

    n = 3
    cf = ChunkFeatures(csc_matrix((n, 1), dtype=np.float32), csc_matrix((n, 1), dtype=np.float32),
                       *(np.zeros(n, np.float32) for _ in range(4)))
    rows, dense = np.arange(n), np.asarray([0.5, 0.2, 0.1], np.float32)
    plain = features(rows, dense, np.zeros(n), np.zeros(n), [], cf)
    views = _index().kind_scores(np.asarray([0.1, 0.9, 0.5, 0.3], np.float32))
    viewed = features(rows, dense, np.zeros(n), np.zeros(n), [], cf, views)
    first_view = FEATURES.index("view")
    assert plain.shape == viewed.shape == (n, len(FEATURES)) and not plain[:, first_view:].any()
    assert viewed[0, FEATURES.index("view_gap")] == 0  # row 0's body view (0.9) is the best
    assert all(weight_vector(w).shape == (len(FEATURES),) for w in (*WEIGHTS.values(), *WEIGHTS_NO_VIEWS.values()))
    assert not any(k.startswith("view") for w in WEIGHTS_NO_VIEWS.values() for k in w)


def test_returns_queries_are_the_first_return_sentence_and_skip_lookalikes():
    from ibert_jupyter.retrieval.tuning.weights import returns_queries

    items = returns_queries([_chunk()], exclude=[])
    assert items == [{"query": "A new table containing the union of all input tables.",
                      "relevant": [_chunk().id], "held_out": "A new table containing the union of all input tables."}]
    assert returns_queries([_chunk()], exclude=["a new table containing the union of all input tables"]) == []


def test_param_queries_are_the_parameter_views_with_raw_text_held_out():
    from ibert_jupyter.retrieval.tuning.weights import param_queries

    items = param_queries([_chunk()], exclude=[])
    views = {text for kind, text in symbol_views(_chunk()) if kind == "param"}
    assert {it["query"] for it in items} == {"A table expression", "Use multiset union (False) or set union (True)."}
    assert {it["query"] for it in items} <= views  # so prepare() can hold the target's own view out
    assert all(it["held_out"] in DOC.replace("\n    ", " ") for it in items)
