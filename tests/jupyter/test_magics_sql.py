"""%load_ext ibert_jupyter and %ibert_sql in a real IPython InteractiveShell."""

from __future__ import annotations

import pytest
from IPython.core.interactiveshell import InteractiveShell


@pytest.fixture
def shell(tpch_con):
    sh = InteractiveShell.instance()
    sh.run_cell("%load_ext ibert_jupyter", store_history=False)
    sh.user_ns["con"] = tpch_con
    sh.run_cell("orders = con.table('orders')\nexpr = orders.group_by('o_orderstatus').agg(n=orders.count())")
    yield sh
    # InteractiveShell is a process-wide singleton: leave no tables behind for other tests
    sh.reset(new_session=False)


def test_extension_registers_ibert_sql(shell):
    assert "ibert_sql" in shell.magics_manager.magics["line"]


def test_ibert_sql_renders_backend_dialect_by_default(shell):
    view = shell.run_line_magic("ibert_sql", "expr")
    assert view.dialect == "duckdb"
    assert 'GROUP BY' in view.sql and '"o_orderstatus"' in view.sql
    assert "<span" in view._repr_html_()  # highlighted for HTML frontends
    assert repr(view).startswith("-- duckdb\n")  # text fallback


def test_ibert_sql_other_dialect(shell):
    view = shell.run_line_magic("ibert_sql", "expr --dialect mssql")
    assert view.dialect == "mssql"
    assert "[o_orderstatus]" in view.sql


def test_ibert_sql_all_dialects_names_the_blocking_operation(shell):
    shell.run_cell("q = orders.mutate(d=orders.o_comment.levenshtein('x'))")
    view = shell.run_line_magic("ibert_sql", "q --all-dialects")
    by_dialect = {r.dialect: r for r in view.portability}
    assert by_dialect["duckdb"].ok
    assert not by_dialect["sqlite"].ok
    assert "Levenshtein" in by_dialect["sqlite"].blockers
    assert "blocked by Levenshtein" in repr(view)


def test_ibert_sql_bad_inputs_give_clear_messages(shell, capsys):
    assert shell.run_line_magic("ibert_sql", "expr --dialect nosuchsql") is None
    assert "unknown SQL dialect 'nosuchsql'" in capsys.readouterr().out
    assert shell.run_line_magic("ibert_sql", "42") is None
    assert "not an Ibis expression" in capsys.readouterr().out
    assert shell.run_line_magic("ibert_sql", "undefined_name") is None
    assert "NameError" in capsys.readouterr().out
