"""Score fusion and re-ranking: the fitted model, first-hit protection, dev queries held out."""

from __future__ import annotations

import numpy as np
import pytest

from ibert_jupyter.retrieval.corpus import build_corpus
from ibert_jupyter.retrieval.ranking import (FEATURES, FUSION_FEATURES, WEIGHTS, fit, protect_firsts,
                                             weight_vector)
from ibert_jupyter.retrieval.tuning import dev_queries


def test_protect_firsts_lifts_a_buried_first_hit_into_the_top_five_and_keeps_rank_order():
    scores = np.arange(100, 0, -1).astype(np.float32)  # row i ranks i-th
    lifted = protect_firsts(scores, [50, 7])
    order = list(np.argsort(-lifted, kind="stable"))
    assert set(order[:5]) == {0, 1, 2, 7, 50}
    assert order[5:8] == [3, 4, 5]  # the displaced rows keep their order behind
    assert protect_firsts(scores, [2, 3]) is scores  # already in the top five: untouched
    with_gap = scores.copy()
    with_gap[60:] = -np.inf
    assert not np.isfinite(protect_firsts(with_gap, [70])[70])  # a non-candidate is never lifted


def test_protect_firsts_never_pushes_one_first_hit_out_to_make_room_for_the_other():
    # dense's first hit already ranks fifth, BM25's is buried: lifting BM25's must not displace dense's
    scores = np.arange(100, 0, -1).astype(np.float32)
    lifted = protect_firsts(scores, [4, 60])
    order = list(np.argsort(-lifted, kind="stable"))
    assert set(order[:5]) == {0, 1, 2, 4, 60}
    assert order[:5].index(4) < order[:5].index(60)  # the lifted rows keep their own order
    assert order[5:7] == [3, 5]


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
def test_dense_first_hit_absent_from_bm25_still_makes_the_top_five(small_index, mode):
    from ibert_jupyter.retrieval.retriever import get_retriever

    r = get_retriever()
    for query in QUERIES:
        dense = r.dense_scores(r.embed(query))
        first = int(np.argmax(np.where(r.is_symbol, dense, -np.inf)))
        sparse, head = r.bm25_scores(query), r.head_scores(query)
        sparse[first] = head[first] = 0.0  # BM25 does not know it at all
        top, scores = r.rank(query, mode, dense, sparse, 5, r.is_symbol, head)
        assert first in top, (query, r.chunks[first].public_name)
        assert list(scores) == sorted(scores, reverse=True)


@pytest.mark.slow
def test_search_keeps_both_retrievers_first_hits(small_index):
    from ibert_jupyter.retrieval.retriever import get_retriever

    r = get_retriever()
    for query in QUERIES:
        ids = [h.id for h in r.search(query, 5)]
        for mode in ("dense", "bm25"):
            first = r.search(query, 1, mode=mode)
            assert not first or first[0].id in ids, (query, mode)


@pytest.mark.slow
def test_held_out_bm25_removes_only_the_sentence_from_its_own_symbol(small_index):
    from ibert_jupyter.retrieval.retriever import get_retriever
    from ibert_jupyter.retrieval.tuning import held_out_scores

    r = get_retriever()
    item = next(it for it in dev_queries(r.chunks, exclude=[]) if r.bm25_scores(it["query"])[r.row[it["relevant"][0]]] > 0)
    row = r.row[item["relevant"][0]]
    plain = r.bm25_scores(item["query"])
    dense, held, _ = held_out_scores(r, item, r.embed(item["query"]))
    assert held[row] < plain[row]
    others = np.arange(len(plain)) != row
    assert np.array_equal(held[others], plain[others]) and dense.shape == plain.shape


def test_candidates_union_the_retrievers_tops_and_the_views_top():
    from ibert_jupyter.retrieval.ranking import candidates

    dense = np.asarray([0.9, 0.1, 0.2, 0.0, 0.3], dtype=np.float32)
    bm25 = np.asarray([0.0, 2.0, 0.0, 0.0, 0.0], dtype=np.float32)
    views = np.full((2, 5), -1.0, dtype=np.float32)
    views[1, 3] = 0.8  # row 3: neither retriever's pick, but a view of it matches
    assert candidates(dense, bm25, n=1).tolist() == [0, 1]  # BM25's zero scores are no candidates
    assert candidates(dense, bm25, n=1, views=views, n_views=1).tolist() == [0, 1, 3]
    assert candidates(dense, bm25, n=1, views=views, n_views=0).tolist() == [0, 1]
