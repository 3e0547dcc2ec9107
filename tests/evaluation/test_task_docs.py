"""What a task-style request's prompt documents: the core sheet's names come from ibis's own
reference programs, and a program's API names are read from its source."""

from __future__ import annotations

from ibert_jupyter.retrieval.corpus.api_names import api_symbols, bare
from ibert_jupyter.retrieval.rank.task_query import core_names


def test_core_names_are_the_everyday_operations_of_the_reference_programs():
    names = set(core_names())
    assert {"filter", "group_by", "agg", "order_by", "limit", "join", "select", "sum"} <= names
    assert not names & {"row_number", "lag", "unnest", "anti_join", "cumsum"}  # task-specific ones stay out
    assert len(names) < 30


def test_api_symbols_in_source_order_with_ibis_functions_qualified():
    code = ('x = t.filter(t.a > 1)\n'
            'x.group_by("b").agg(n=_.count()).order_by(ibis.desc("n")).mutate(r=ibis.row_number().over())')
    assert api_symbols(code) == ("filter", "group_by", "agg", "count", "order_by", "ibis.desc", "mutate",
                                 "ibis.row_number", "over")
    assert bare("ibis.desc") == "desc" and bare("Table.group_by") == "group_by"
