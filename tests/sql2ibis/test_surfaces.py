"""User surfaces: %%ibert_from_sql in a real IPython shell and the `ibert convert` command."""

from __future__ import annotations

import json

import pytest
from IPython.core.interactiveshell import InteractiveShell

from ibert_jupyter.cli import main

SQL = (
    "SELECT r_name, count(*) AS nations FROM nation JOIN region ON n_regionkey = r_regionkey\n"
    "GROUP BY r_name ORDER BY nations DESC, r_name"
)


@pytest.fixture
def shell(tpch_con):
    sh = InteractiveShell.instance()
    sh.run_cell("%load_ext ibert_jupyter", store_history=False)
    sh.user_ns["con"] = tpch_con
    sh.rl_next_input = None
    yield sh
    for name in ("con", "nation", "region", "converted"):
        sh.user_ns.pop(name, None)


def test_magic_puts_verified_code_in_next_cell_and_it_runs(shell):
    result = shell.run_cell_magic("ibert_from_sql", "--verify", SQL)
    assert result.ok, result.verdict
    assert "same rows" in result.verdict
    assert shell.rl_next_input == result.code
    # The code builds on the backend in the namespace and runs as the next cell would.
    assert "nation = con.table('nation')" in result.code
    run = shell.run_cell(result.code, store_history=False)
    assert run.success, run.error_in_exec
    df = run.result.execute()
    assert list(df.columns) == ["r_name", "nations"] and len(df) == 5


def test_magic_uses_table_variables_and_other_dialects(shell):
    shell.run_cell("nation = con.table('nation')")
    result = shell.run_cell_magic(
        "ibert_from_sql", "--dialect postgres --verify",
        "SELECT n_name FROM nation WHERE n_name ILIKE 'a%' ORDER BY n_name LIMIT 3",
    )
    assert result.ok, result.verdict
    assert "con.table" not in result.code  # `nation` already exists in the kernel
    assert "<pre>" in result._repr_html_()


def test_magic_reports_unsupported_sql_without_a_new_cell(shell):
    result = shell.run_cell_magic("ibert_from_sql", "", "SELECT my_udf(n_name) FROM nation")
    assert not result.ok
    assert "MY_UDF" in result.verdict and "line 1" in result.verdict
    assert shell.rl_next_input is None


def test_convert_command_reads_stdin_and_verifies(monkeypatch, capsys, tmp_path, tpch_con):
    db = tmp_path / "nation.duckdb"
    import duckdb

    raw = duckdb.connect(str(db))
    raw.execute("CREATE TABLE nation AS SELECT * FROM (VALUES (1, 'A', 0), (2, 'B', 0), (3, 'C', 1)) t(n_nationkey, n_name, n_regionkey)")
    raw.close()
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO(
        "SELECT n_regionkey, count(*) AS c FROM nation GROUP BY n_regionkey ORDER BY c DESC"))
    assert main(["convert", "--duckdb", str(db), "--verify"]) == 0
    out, err = capsys.readouterr()
    assert ".group_by('n_regionkey')" in out
    assert "matched the SQL's rows" in err


def test_convert_command_with_json_schema_and_refusal(capsys, tmp_path):
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps({"t": {"a": "int64", "b": "string"}}))
    sql = tmp_path / "q.sql"
    sql.write_text("SELECT a FROM t WHERE b LIKE 'x%'")
    assert main(["convert", str(sql), "--schema", str(schema)]) == 0
    assert "t.filter(t.b.like('x%')).select('a')" in capsys.readouterr().out
    sql.write_text("SELECT a FROM t, LATERAL (SELECT 1) x")
    assert main(["convert", str(sql), "--schema", str(schema)]) == 2
    assert "unsupported SQL" in capsys.readouterr().err
    assert main(["convert", str(tmp_path / "missing.sql"), "--schema", str(schema)]) == 2
