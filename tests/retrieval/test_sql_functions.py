"""SQL-function views: Ibis symbols linked to the DuckDB function they compile to, on the installed packages."""

from __future__ import annotations

import pytest

from ibert_jupyter.retrieval.corpus.chunks import build_corpus
from ibert_jupyter.retrieval.corpus.sql_functions import (function_descriptions, op_functions, simple_ops,
                                                          symbol_functions)
from ibert_jupyter.retrieval.index.views import symbol_views
from ibert_jupyter.retrieval.paths import ibis_source_dir

COMPILER = '''
class Compiler:
    SIMPLE_OPS = {ops.Mode: "mode", ops.ArgMax: "max_by", "not an op": "x"}

    def visit_Strip(self, op, *, arg):
        """Docstrings do not count."""
        return self.f.trim(arg)

    def visit_Clip(self, op, *, arg, lower, upper):
        arg = self.f.greatest(arg, lower)
        return self.f.least(arg, upper)
'''


def test_simple_ops_reads_the_table_and_renaming_visitors_only():
    assert simple_ops(COMPILER) == {"Mode": "mode", "ArgMax": "max_by", "Strip": "trim"}


@pytest.fixture(scope="module")
def linked():
    chunks = build_corpus(("expr/types/generic.py", "expr/types/relations.py", "expr/types/strings.py"),
                          examples=False)
    links = symbol_functions(chunks, ibis_source_dir())
    return {c.public_name: links[c.id] for c in chunks if c.id in links}


def test_symbols_get_duckdbs_own_description_of_their_function(linked):
    function, descriptions = linked["Column.mode"]
    assert function == "mode" and any("most frequent" in d for d in descriptions)
    assert linked["Column.argmax"][0] == "max_by"  # base compiler's table, not a guess from the name
    assert linked["StringValue.strip"][0] == "trim"  # a renaming visitor in the DuckDB compiler


def test_relation_ops_and_hand_compiled_ops_get_none(linked):
    # ops.Filter is a WHERE clause: DuckDB's list function `filter` must not describe it
    assert "Table.filter" not in linked and "Table.select" not in linked
    assert "NumericValue.clip" not in linked  # GREATEST and LEAST together: no one function


def test_overloads_keep_each_description():
    descriptions = function_descriptions()
    assert len(descriptions["length"]) >= 2  # strings, lists, bit strings are described apart
    assert all(d and d == d.strip() for ds in descriptions.values() for d in ds)


def test_op_functions_without_compilers_is_empty(tmp_path):
    assert op_functions(tmp_path, {"mode"}) == {}


def test_sql_descriptions_become_views():
    chunk = build_corpus(("expr/types/generic.py",), examples=False)[0]
    views = symbol_views(chunk, ["Returns the most frequent value.", "b", "c", "d"])
    assert [t for k, t in views if k == "sql"] == ["Returns the most frequent value.", "b", "c"]
