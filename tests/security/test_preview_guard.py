"""The preview's SQL allow-list and limits, on a real DuckDB connection.

A compromised worker could send back any SQL text, so the guard is tested on SQL directly:
everything but a read-only query over the notebook's tables is refused before DuckDB sees
it (checked by the harm: no marker file, no new table, no secret in the output), and what
is allowed runs with a row limit, a byte limit and an interrupt that really stops DuckDB.
"""

from __future__ import annotations

import time

import pytest

from ibert_jupyter.verify.preview_guard import (
    KnownTable,
    PreviewLimitExceeded,
    PreviewRefused,
    cap_amplifiers,
    check_preview_sql,
    duckdb_builtins,
    run_duckdb_preview,
)
from ibert_jupyter.verify.verifier import CandidateTimeout

KNOWN = {"t": KnownTable("t")}

HOSTILE_SQL = [
    ("copy-to", "COPY (SELECT 1) TO '{mark}'"),
    ("copy-in-cte-text", "SELECT 1 FROM t; COPY (SELECT 1) TO '{mark}'"),
    ("attach", "ATTACH '{mark}' AS pwned"),
    ("pragma", "PRAGMA database_list"),
    ("set", "SET enable_external_access = false"),
    ("install", "INSTALL httpfs"),
    ("load", "LOAD httpfs"),
    ("create-table", "CREATE TABLE pwned AS SELECT * FROM t"),
    ("insert", "INSERT INTO t SELECT * FROM t"),
    ("delete", "DELETE FROM t"),
    ("read_csv", "SELECT * FROM read_csv('{secret}')"),
    ("read_csv_auto-in-join", "SELECT * FROM t JOIN read_csv_auto('{secret}') AS s ON true"),
    ("read_text-scalar-subquery", "SELECT (SELECT content FROM read_text('{secret}')) FROM t"),
    ("string-table-name", "SELECT * FROM '{secret}'"),
    ("quoted-path-table", "SELECT * FROM \"{secret}\""),
    ("glob-table", "SELECT * FROM glob('{vault}/*')"),
    ("query-function", "SELECT * FROM query('SELECT 1')"),
    ("unknown-table", "SELECT * FROM secrets"),
    ("qualified-other-db", "SELECT * FROM other.main.t"),
    ("getenv", "SELECT getenv('HOME') FROM t"),
    ("current_setting", "SELECT current_setting('home_directory') FROM t"),
    ("duckdb_secrets", "SELECT * FROM duckdb_secrets()"),
    ("udf-name", "SELECT my_python_udf(a) FROM t"),
    ("range-huge", "SELECT * FROM t, range(1000000000000)"),
    ("unnest-computed-range", "SELECT UNNEST(range(1000000000000)) FROM t"),
    ("unnest-range-of-a-column", "SELECT UNNEST(range(a * 1000000000)) FROM t"),
    ("cte-path-name", "WITH \"{secret}\" AS (SELECT 1) SELECT * FROM \"{secret}\""),
    ("two-statements", "SELECT 1 FROM t; SELECT 2 FROM t"),
    ("select-into", "SELECT * INTO pwned FROM t"),
    ("describe", "DESCRIBE t"),
    ("checkpoint", "CHECKPOINT"),
    ("export-database", "EXPORT DATABASE '{out}'"),
]


@pytest.mark.parametrize("template", [s for _, s in HOSTILE_SQL], ids=[i for i, _ in HOSTILE_SQL])
def test_hostile_sql_is_refused_before_duckdb_sees_it(world, template):
    sql = world.fill(template)
    before = world.capture()
    builtins = duckdb_builtins(world.con.con)
    with pytest.raises(PreviewRefused):
        tree = check_preview_sql(sql, "duckdb", KNOWN, builtins)
        run_duckdb_preview(world.con.con, tree.sql(dialect="duckdb"), rows=10, max_bytes=2**20, timeout_s=1)
    world.assert_unharmed(before, seconds=5)


def test_the_notebooks_own_query_is_allowed(world):
    sql = 'WITH "t1" AS (SELECT "a", "s" FROM "t" WHERE "a" > 5) SELECT "s", COUNT(*) AS "n" FROM "t1" GROUP BY 1'
    tree = check_preview_sql(sql, "duckdb", KNOWN, duckdb_builtins(world.con.con))
    table = run_duckdb_preview(world.con.con, tree.sql(dialect="duckdb"), rows=7, max_bytes=2**20, timeout_s=5)
    assert table.num_rows == 7 and table.column_names == ["s", "n"]


def test_unnest_of_a_stored_array_column_is_previewed():
    """Bounded by the stored arrays (IbisBench's gold `t.tags.unnest()` programs were refused before)."""
    import duckdb

    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT i AS a, ['x', 'y', 'z'][1:(i % 3) + 1] AS arr FROM range(30) r(i)")
    sql = 'SELECT "x", COUNT(*) AS "n" FROM (SELECT UNNEST("t0"."arr") AS "x" FROM "t" AS "t0") AS "t1" GROUP BY 1'
    tree = check_preview_sql(sql, "duckdb", KNOWN, duckdb_builtins(con))
    table = run_duckdb_preview(con, tree.sql(dialect="duckdb"), rows=10, max_bytes=2**20, timeout_s=5)
    assert sorted(zip(table.column("x").to_pylist(), table.column("n").to_pylist())) == [("x", 30), ("y", 20), ("z", 10)]


def test_interrupt_really_stops_duckdb(world):
    heavy = "SELECT count(*) AS n FROM t AS a, t AS b, t AS c, t AS d"
    tree = check_preview_sql(heavy, "duckdb", KNOWN, duckdb_builtins(world.con.con))
    before = world.capture()
    t0 = time.monotonic()
    with pytest.raises(CandidateTimeout, match="interrupted"):
        run_duckdb_preview(world.con.con, tree.sql(dialect="duckdb"), rows=10, max_bytes=2**20, timeout_s=0.5)
    assert time.monotonic() - t0 < 3.0
    world.assert_unharmed(before, seconds=5)
    # the connection is usable right away: nothing keeps running behind our back
    t0 = time.monotonic()
    assert world.con.con.execute("SELECT count(*) FROM t").fetchone()[0] == 2000
    assert time.monotonic() - t0 < 1.0


def test_bytes_are_limited_as_well_as_rows(world):
    sql = "SELECT a, repeat('x', 100000) AS big FROM t"
    tree = cap_amplifiers(check_preview_sql(sql, "duckdb", KNOWN, duckdb_builtins(world.con.con)))
    table = run_duckdb_preview(world.con.con, tree.sql(dialect="duckdb"), rows=1000, max_bytes=200_000, timeout_s=5)
    assert 0 < table.num_rows < 1000 and table.nbytes <= 200_000
    with pytest.raises(PreviewLimitExceeded):
        run_duckdb_preview(world.con.con, tree.sql(dialect="duckdb"), rows=1000, max_bytes=1_000, timeout_s=5)


def test_repeat_counts_are_capped(world):
    tree = cap_amplifiers(check_preview_sql("SELECT repeat(s, a * 1000000000) AS x FROM t", "duckdb", KNOWN))
    table = run_duckdb_preview(world.con.con, tree.sql(dialect="duckdb"), rows=3, max_bytes=2**24, timeout_s=5)
    assert max(len(v) for v in table.column("x").to_pylist()) <= 10_000 * len("name1999")
