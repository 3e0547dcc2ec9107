"""Prompts carry the API docs' text — signature, summary, a usage line — never object reprs."""

from __future__ import annotations

import pytest

from ibert_jupyter.generate import docs as docs_module
from ibert_jupyter.generate import generate_verified
from ibert_jupyter.retrieval.rank.retriever import SearchHit


def _hit(name: str, signature: str, summary: str) -> SearchHit:
    return SearchHit(id=f"ibis.expr.types.relations.{name}", public_name=name, kind="method", signature=signature,
                     summary=summary, score=0.91, file="ibis/expr/types/relations.py", line=1,
                     path="/site-packages/ibis/expr/types/relations.py")


class RecordingSource:
    """SCRIPTED candidate source: one fixed answer; records the prompts it is sent."""

    def __init__(self, answer: str):
        self.answer, self.prompts = answer, []

    def candidates(self, messages, n, on_token):
        self.prompts.append(list(messages))
        return [self.answer] * n


def test_search_hits_reach_the_prompt_as_docs_text(tpch_con, monkeypatch):
    import ibert_jupyter.retrieval as retrieval

    hits = [_hit("Table.group_by", "(self, *by, **key_exprs)", "Create a grouped table expression."),
            _hit("ibis.row_number", "()", "Return an analytic function expression for the current row number.")]
    monkeypatch.setattr(retrieval, "search_for_task", lambda query, k: hits[:k])
    monkeypatch.setattr(docs_module, "core_sheet",
                        lambda retriever=None: docs_module.ApiDoc("core operations", "Everyday operations:\nTable.filter(...)",
                                                   ("Table.filter",)))
    source = RecordingSource("orders.count()")
    generate_verified("orders per status", {"orders": tpch_con.table("orders")}, source, n=1, rounds=1)
    prompt = source.prompts[0][1]["content"]
    assert "SearchHit(" not in prompt and "score=" not in prompt and "/site-packages/" not in prompt
    assert "Table.group_by(self, *by, **key_exprs)\n    Create a grouped table expression." in prompt
    assert "ibis.row_number()" in prompt and "Everyday operations:" in prompt


def test_doc_text_shows_a_usage_line_from_the_examples():
    doctest = (">>> import ibis\n>>> ibis.options.interactive = True\n>>> t = ibis.examples.penguins.fetch()\n"
               ">>> t.group_by(\"species\").agg(n=t.count())\n┏━━━━━━┓\n>>> t.group_by(\"island\").agg()\n>>> t.x")
    text = docs_module.doc_text("Table.group_by", "(self, *by)", "Create a grouped table expression.", doctest)
    assert text.splitlines() == [
        "Table.group_by(self, *by)",
        "    Create a grouped table expression.",
        '    e.g. t.group_by("species").agg(n=t.count())',
        '         t.group_by("island").agg()',
    ]
    bare_code = 'import ibis\nt = ibis.memtable({"v": [1, 2]})\nt.mutate(r=t.v.rank())'
    assert docs_module.usage_lines(bare_code) == ["t.mutate(r=t.v.rank())"]


def test_dict_hits_render_and_objects_without_a_name_are_refused():
    doc = docs_module.hit_doc({"public_name": "Table.limit", "signature": "(self, n)", "summary": "First n rows."})
    assert doc.text == "Table.limit(self, n)\n    First n rows." and doc.documents == ("Table.limit",)
    with pytest.raises(TypeError, match="no public_name"):
        docs_module.hit_doc(object())


def test_no_index_means_no_docs(monkeypatch, tmp_path):
    monkeypatch.setenv("IBERT_DATA_DIR", str(tmp_path))
    assert docs_module.retrieve_docs("total revenue per nation", 5) == []
