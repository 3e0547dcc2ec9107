"""Score fusion and re-ranking: the fitted model, dev queries held out."""

from __future__ import annotations

import numpy as np
import pytest

from ibert_jupyter.retrieval.corpus.chunks import build_corpus
from ibert_jupyter.retrieval.rank.ranking import FEATURES, FUSION_FEATURES, WEIGHTS, fit, weight_vector
from ibert_jupyter.retrieval.tuning.weights import dev_queries


def test_fit_is_deterministic_and_weights_the_informative_feature():
    rng = np.random.default_rng(0)
    groups = []
    for _ in range(60):
        x = rng.normal(size=(30, len(FEATURES))).astype(np.float32)
        y = np.zeros(30, dtype=bool)
        y[rng.integers(30)] = True
        x[y, FEATURES.index("name_match")] += 2.0  # only this feature tells the relevant row apart
        groups.append((x, y))
    first, again = fit(groups, FEATURES), fit(groups, FEATURES)
    assert first == again
    assert first["name_match"] > 1.0
    assert max(abs(v) for k, v in first.items() if k != "name_match") < first["name_match"] / 3
    with pytest.raises(ValueError, match="nothing to fit"):
        fit([(groups[0][0], np.zeros(30, dtype=bool))], FEATURES)


def test_shipped_weights_name_known_features_and_hybrid_uses_only_the_two_retrievers():
    assert set(WEIGHTS) == {"hybrid", "hybrid_graph"}
    assert set(WEIGHTS["hybrid"]) <= set(FUSION_FEATURES)
    for weights in WEIGHTS.values():
        assert weight_vector(weights).shape == (len(FEATURES),)
    with pytest.raises(ValueError, match="unknown ranking features"):
        weight_vector({"popularity": 1.0})


def test_dev_queries_are_clean_docstring_sentences_that_skip_benchmark_lookalikes():
    chunks = build_corpus(("expr/types/strings.py",), examples=False)
    items = dev_queries(chunks, exclude=[])
    ids = {c.id for c in chunks}
    assert len(items) > 10 and all(it["relevant"][0] in ids for it in items)
    summaries = {c.summary for c in chunks}
    for it in items:
        assert "`" not in it["query"] and ":::" not in it["query"] and it["query"] not in summaries
        assert "---" not in it["query"]  # no section header passes for prose
        name = it["relevant"][0].rsplit(".", 1)[-1]
        assert not ("_" in name.strip("_") and name in it["query"])
    dropped = dev_queries(chunks, exclude=[items[0]["query"]])
    assert items[0]["query"] not in {it["query"] for it in dropped}


QUERIES = ("number of characters in a string", "replace text matching a regular expression",
           "group rows by a column", "join two tables", "remove whitespace from both ends of a string")


@pytest.mark.slow  # uses the session's small real index (~20-60 s to build once)
@pytest.mark.parametrize("mode", ["hybrid", "hybrid_graph"])
def test_fused_modes_rank_candidates_of_either_retriever_in_score_order(small_index, mode):
    from ibert_jupyter.retrieval.rank.ranking import candidates
    from ibert_jupyter.retrieval.rank.retriever import get_retriever

    r = get_retriever()
    for query in QUERIES:
        vector = r.embed(query)
        dense, sparse = r.dense_scores(vector), r.bm25_scores(query)
        views = r.view_scores(vector) if mode == "hybrid_graph" else None
        top, scores = r.rank(query, mode, dense, sparse, 10, r.is_symbol, views=views)
        assert 0 < len(top) <= 10 and set(top) <= set(candidates(dense, sparse, views=views))
        assert all(r.is_symbol[top])
        assert list(scores) == sorted(scores, reverse=True)


@pytest.mark.slow
def test_held_out_bm25_removes_only_the_sentence_from_its_own_symbol(small_index):
    from ibert_jupyter.retrieval.rank.retriever import get_retriever
    from ibert_jupyter.retrieval.tuning.weights import held_out_scores

    r = get_retriever()
    item = next(it for it in dev_queries(r.chunks, exclude=[]) if r.bm25_scores(it["query"])[r.row[it["relevant"][0]]] > 0)
    row = r.row[item["relevant"][0]]
    plain = r.bm25_scores(item["query"])
    dense, held, _ = held_out_scores(r, item, r.embed(item["query"]))
    assert held[row] < plain[row]
    others = np.arange(len(plain)) != row
    assert np.array_equal(held[others], plain[others]) and dense.shape == plain.shape


def test_candidates_union_the_retrievers_tops_and_the_views_top():
    from ibert_jupyter.retrieval.rank.ranking import candidates

    dense = np.asarray([0.9, 0.1, 0.2, 0.0, 0.3], dtype=np.float32)
    bm25 = np.asarray([0.0, 2.0, 0.0, 0.0, 0.0], dtype=np.float32)
    views = np.full((2, 5), -1.0, dtype=np.float32)
    views[1, 3] = 0.8  # row 3: neither retriever's pick, but a view of it matches
    assert candidates(dense, bm25, n=1).tolist() == [0, 1]  # BM25's zero scores are no candidates
    assert candidates(dense, bm25, n=1, views=views, n_views=1).tolist() == [0, 1, 3]
    assert candidates(dense, bm25, n=1, views=views, n_views=0).tolist() == [0, 1]
