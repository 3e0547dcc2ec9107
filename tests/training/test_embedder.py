"""Pair mining keeps benchmark queries out; a tiny MNRL run saves a model that loads and embeds."""

from __future__ import annotations

import pytest

from ibert_jupyter.retrieval.corpus.chunks import build_corpus
from ibert_jupyter.training.embedder import Pair, mine_pairs, train


@pytest.fixture(scope="module")
def chunks():
    return build_corpus(("expr/types/strings.py",), examples=False)


def test_mined_pairs_cover_all_sources_and_exclude_benchmark_queries(chunks):
    pairs = mine_pairs(chunks)
    assert {p.source for p in pairs} == {"signature_doc", "doc_line", "example", "paraphrase", "alias"}
    assert Pair("str.capitalize", next(p.positive for p in pairs if p.positive.startswith("StringValue.capitalize(")),
                "alias") in pairs  # a glossary phrase
    # DuckDB's description of `lower` and pandas' of Series.str.lower, both to StringValue.lower
    lower = {p.anchor for p in pairs if p.source == "paraphrase" and p.positive.startswith("StringValue.lower(")}
    assert any("lower case" in a for a in lower) and any("lowercase" in a for a in lower)
    assert {"paraphrase", "alias"}.isdisjoint({p.source for p in mine_pairs(chunks, paraphrase=False)})
    assert any(p.positive.startswith("StringValue.re_replace(") for p in pairs)
    sentence = next(p.anchor for p in pairs if p.source == "doc_line")
    kept = mine_pairs(chunks, exclude_queries=[sentence])
    assert sentence not in {p.anchor for p in kept} and len(kept) < len(pairs)


@pytest.mark.slow
def test_tiny_training_run_saves_a_loadable_model(chunks, tmp_path):
    from ibert_jupyter.retrieval.encode.dense import encode

    report = train(mine_pairs(chunks), tmp_path / "ft", steps=2, batch_size=4, progress=False)
    assert report["steps"] == 2 and (tmp_path / "ft" / "modules.json").exists()
    vec = encode(["lowercase a string"], str(tmp_path / "ft"))
    assert vec.shape == (1, 384)
    with pytest.raises(ValueError, match="at least 8 pairs"):
        train(mine_pairs(chunks)[:3], tmp_path / "x", steps=1, batch_size=8)
