"""Docstring pieces: a section header is never prose, even where a body starts with one."""

from __future__ import annotations

from ibert_jupyter.retrieval.corpus.docstrings import body, clean, described, prose, sections, sentences

DOC = """Select rows from `table` based on predicates.

Parameters
----------
predicates
    Boolean value expressions used to select rows in `table`. More text here.
where
    An optional filter.

Returns
-------
Table
    Filtered table expression

Examples
--------
>>> t.filter(t.a > 1)"""


def test_a_body_that_starts_with_a_section_has_no_prose_sentences():
    assert body(DOC).startswith("Parameters")
    assert prose(body(DOC)) == ""
    assert sentences(body(DOC)) == []  # was "Parameters ---------- predicates Boolean value ..."
    assert sentences(DOC) == ["Select rows from `table` based on predicates."]


def test_sections_split_by_header_and_describe_entries():
    parts = sections(DOC)
    assert set(parts) == {"", "Parameters", "Returns", "Examples"}
    assert described(parts["Parameters"]) == ["Boolean value expressions used to select rows in table.",
                                              "An optional filter."]
    assert described(parts["Returns"]) == ["Filtered table expression"]
    assert ">>>" not in " ".join(sentences(DOC))


def test_indented_headers_and_markup():
    doc = "A summary line, long enough.\n\n    Notes\n    -----\n    Not prose."
    assert sentences(doc) == ["A summary line, long enough."]
    assert clean("[link](http://x) `code` **bold**") == "link code bold"
