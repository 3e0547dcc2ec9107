"""The shipped glossary of aliases: well-formed, names only symbols the installed Ibis has, becomes views."""

from __future__ import annotations

import json

import pytest

from ibert_jupyter.retrieval.corpus import aliases
from ibert_jupyter.retrieval.corpus.chunks import SYMBOL_KINDS, Chunk, build_corpus
from ibert_jupyter.retrieval.index.views import symbol_views


@pytest.mark.parametrize("text, problem", [
    ("{not json", "not valid JSON"),
    ('["a", "b"]', "expected an object"),
    ('{"ibis.expr.api.union": []}', "non-empty list"),
    ('{"ibis.expr.api.union": "stack rows"}', "non-empty list"),
    ('{"ibis.expr.api.union": ["  "]}', "is not a phrase"),
    ('{"ibis.expr.api.union": ["one two three four five six seven eight nine"]}', "is not a phrase"),
    ('{"ibis.expr.api.union": [3]}', "is not a phrase"),
])
def test_a_malformed_glossary_is_refused_with_the_problem_named(tmp_path, text, problem):
    path = tmp_path / "aliases.json"
    path.write_text(text)
    with pytest.raises(aliases.AliasFileError, match=problem):
        aliases.load(path)


def test_the_shipped_glossary_names_only_symbols_of_the_installed_ibis():
    glossary = aliases.load()
    ids = {c.id for c in build_corpus(examples=False) if c.kind in SYMBOL_KINDS}
    assert len(glossary) >= 200
    assert sorted(set(glossary) - ids) == []
    assert aliases.symbol_aliases(sorted(ids), glossary) == {k: [p.strip() for p in v] for k, v in glossary.items()}


def test_a_missing_glossary_is_named(tmp_path):
    with pytest.raises(aliases.AliasFileError, match="cannot read the glossary"):
        aliases.fingerprint(tmp_path / "gone.json")


def test_a_broken_glossary_stops_ibert_index_with_one_line(tmp_path, monkeypatch, capsys):
    from ibert_jupyter.cli import main

    broken = tmp_path / "aliases.json"
    broken.write_text('{"ibis.expr.api.union": "stack rows"}')
    monkeypatch.setattr(aliases, "FILE", broken)
    monkeypatch.setenv("IBERT_DATA_DIR", str(tmp_path / "data"))  # no index yet: nothing but the glossary to check
    built = []
    monkeypatch.setattr("ibert_jupyter.retrieval.index.build.build_index", lambda **kw: built.append(kw))
    assert main(["index"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "non-empty list" in err and "Traceback" not in err
    assert built == []


def test_no_glossary_phrase_resembles_a_benchmark_question():
    """Same rule as the fine-tuning pairs: token Jaccard >= 0.6 to any labeled question is left out."""
    from ibert_jupyter.evaluation.bench_retrieval import default_queries_path, heldout_queries_path, load_queries
    from ibert_jupyter.retrieval.encode.sparse import similar

    questions = [q["query"] for p in (default_queries_path(), heldout_queries_path()) for q in load_queries(p)]
    close = [(name, phrase, q) for name, phrases in aliases.load().items() for phrase in phrases
             for q in questions if similar(phrase, q)]
    assert close == []


def test_unknown_names_are_dropped_and_the_fingerprint_follows_the_file(tmp_path):
    glossary = {"ibis.expr.types.relations.Table.cross_join": ["cartesian product"], "ibis.gone": ["vanished"]}
    assert aliases.symbol_aliases(["ibis.expr.types.relations.Table.cross_join"], glossary) == {
        "ibis.expr.types.relations.Table.cross_join": ["cartesian product"]}
    path = tmp_path / "aliases.json"
    path.write_text(json.dumps(glossary))
    before = aliases.fingerprint(path)
    path.write_text(json.dumps({**glossary, "ibis.gone": ["still gone"]}))
    assert aliases.fingerprint(path) != before


def test_aliases_become_views_of_their_symbol():
    chunk = Chunk(id="ibis.expr.types.relations.Table.cross_join", kind="method", name="cross_join",
                  public_name="Table.cross_join", module="ibis.expr.types.relations", file="x.py", line=1, end_line=2,
                  summary="Compute the cross join of a sequence of tables.")
    views = symbol_views(chunk, aliases=["cartesian  product", "CROSS JOIN"])
    assert ("alias", "cartesian product") in views and ("alias", "CROSS JOIN") in views
    assert symbol_views(chunk, aliases=["cartesian product"])[:2] == symbol_views(chunk)[:2]
