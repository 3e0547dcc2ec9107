"""BM25 as sparse vectors: the dot product of a query and a document vector is the BM25 score."""

from __future__ import annotations

import math

import pytest

from ibert_jupyter.retrieval.encode.sparse import BM25Encoder, tokenize


def test_tokenize_splits_identifiers_like_people_type_them():
    assert tokenize("group_by GroupBy") == ["group", "group"]  # "by" is a stop word
    assert tokenize("HTTPServer to_sql") == ["http", "server", "sql"]
    assert "regex" in tokenize("re_search uses a REGEX")
    assert tokenize("values") == tokenize("value")  # light stemming


def test_sparse_dot_product_equals_textbook_bm25(tmp_path):
    docs = ["filter rows of a table", "group rows by keys", "table join on keys keys"]
    enc = BM25Encoder.fit(docs)
    query = "keys table"
    q_ids, q_vals = enc.encode_query(query)
    toks = [tokenize(d) for d in docs]
    n, avgdl = len(docs), sum(map(len, toks)) / len(docs)
    for doc, dtoks in zip(docs, toks):
        ids, vals = enc.encode_document(doc)
        got = sum(v for i, v in zip(ids, vals) if i in q_ids)
        want = 0.0
        for term in set(tokenize(query)):
            df = sum(term in t for t in toks)
            tf = dtoks.count(term)
            idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
            want += idf * tf * 2.2 / (tf + 1.2 * (1 - 0.75 + 0.75 * len(dtoks) / avgdl))
        assert got == pytest.approx(want)
    enc.save(tmp_path / "bm25.json")
    assert BM25Encoder.load(tmp_path / "bm25.json").encode_query(query) == (q_ids, q_vals)


def test_fit_rejects_empty_corpus():
    with pytest.raises(ValueError, match="empty corpus"):
        BM25Encoder.fit([])
