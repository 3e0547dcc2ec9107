"""The verified-generation loop against real DuckDB TPC-H tables, with a SCRIPTED candidate
source (named as such: it replays fixed texts instead of sampling a model)."""

from __future__ import annotations

import pytest

from ibert_jupyter.context import schema_snapshot, tables_from_snapshot
from ibert_jupyter.generate import generate_verified
from ibert_jupyter.generate import docs as docs_module


class ScriptedCandidateSource:
    """Replays one list of candidate texts per round and records the prompts it was sent."""

    def __init__(self, rounds: list[list[str]]):
        self.rounds = rounds
        self.prompts: list[list[dict]] = []

    def candidates(self, messages, n, on_token):
        texts = self.rounds[len(self.prompts)]
        self.prompts.append(list(messages))
        for i, text in enumerate(texts):
            on_token(i, text)
        return texts


@pytest.fixture
def orders(tpch_con):
    return {"orders": tpch_con.table("orders")}


def test_best_verified_candidate_wins(orders):
    source = ScriptedCandidateSource([[
        "```python\norders.filter(orders.o_totalprice > 1000).group_by('nope').agg()\n```",
        "```python\norders.group_by(orders.o_orderstatus).agg(n=orders.count())\n```",
        "```python\nx = orders.filter(orders.o_totalprice > 100)\ny = x.group_by('o_orderstatus').agg(n=x.count())\ny\n```",
    ]])
    events = []
    result = generate_verified("orders per status", orders, source, n=3, rounds=2, on_event=events.append)
    assert result.rounds == 1 and len(result.candidates) == 3
    assert [c.report.ok for c in result.candidates] == [False, True, True]
    assert result.best.index == 1  # shortest verified
    assert "GROUP BY" in result.best.report.sql
    assert {e["event"] for e in events} >= {"round", "token", "candidate", "verified"}
    prompt = source.prompts[0][1]["content"]
    assert "o_orderstatus: !string" in prompt and "orders per status" in prompt


def test_refines_with_compiler_errors_then_reports_nothing_verified(orders):
    source = ScriptedCandidateSource([
        ["```python\norders.o_nonexistent.sum()\n```"],
        ["import os\nos.listdir('.')"],
    ])
    result = generate_verified("total", orders, source, n=1, rounds=2)
    assert result.best is None and result.rounds == 2
    second_prompt = source.prompts[1][-1]["content"]
    assert "o_nonexistent" in second_prompt and "failed at" in second_prompt
    assert [c.report.stage for c in result.candidates] == ["build", "sandbox"]
    data = result.to_dict()
    assert data["verified"] is False and data["best"] is None and len(data["candidates"]) == 2


def test_unbound_tables_from_snapshot_verify_like_live_ones(orders):
    snapshot = schema_snapshot(orders)
    unbound = tables_from_snapshot(snapshot)
    source = ScriptedCandidateSource([["orders.group_by('o_orderpriority').agg(t=orders.o_totalprice.sum())"]])
    result = generate_verified("t", unbound, source, snapshot=snapshot, n=1, rounds=1, dialect="duckdb")
    assert result.best is not None and result.best.report.verified_against == ["orders (unbound)"]


def test_retrieved_docs_reach_the_prompt(orders, monkeypatch):
    monkeypatch.setattr(docs_module, "retrieve_docs", lambda q, k: ["Table.group_by(...) groups rows"])
    import ibert_jupyter.generate.loop as loop

    monkeypatch.setattr(loop, "retrieve_docs", docs_module.retrieve_docs)
    source = ScriptedCandidateSource([["orders.count()"]])
    generate_verified("how many orders", orders, source, n=1, rounds=1)
    assert "Table.group_by(...) groups rows" in source.prompts[0][1]["content"]


def test_missing_retrieval_index_is_tolerated():
    assert isinstance(docs_module.retrieve_docs("group by", 3), list)


def test_bad_arguments_are_named(orders):
    with pytest.raises(ValueError, match="empty request"):
        generate_verified("  ", orders, ScriptedCandidateSource([]))
    with pytest.raises(ValueError, match="at least 1"):
        generate_verified("x", orders, ScriptedCandidateSource([]), n=0)
