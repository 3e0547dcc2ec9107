"""Identifier semantics per dialect, and output names as the SQL engine gives them."""

from __future__ import annotations

import pytest

from ibert_jupyter.sql.transpile import UnsupportedSQL, sql_to_ibis
from ibert_jupyter.sql.transpile.checked import convert_and_check
from ibert_jupyter.verify import verify

CATALOG = {"hits": {"AdvEngineID": "int16", "UserID": "int64", "URL": "string"}}


@pytest.mark.parametrize("sql", [
    "SELECT AdvEngineID FROM hits",
    'SELECT "AdvEngineID" FROM hits',
    "SELECT advengineid FROM hits",
    'SELECT "advengineid" FROM hits',  # DuckDB compares quoted names without case too
    "SELECT ADVENGINEID FROM HITS",
])
def test_duckdb_names_resolve_to_the_real_column(sql):
    assert sql_to_ibis(sql, catalog=CATALOG).code == "hits.select('AdvEngineID')"


@pytest.mark.parametrize("dialect, sql, code", [
    ("postgres", "SELECT advEngineId FROM hits", "hits.select('AdvEngineID')"),
    ("postgres", 'SELECT "AdvEngineID" FROM "hits"', "hits.select('AdvEngineID')"),
    ("snowflake", "SELECT AdvEngineID AS Engine FROM hits", "hits.select(Engine=hits.AdvEngineID)"),  # verbatim
    ("snowflake", 'SELECT AdvEngineID AS "Engine" FROM hits', "hits.select(Engine=hits.AdvEngineID)"),
    ("bigquery", "SELECT advengineid FROM hits", "hits.select('AdvEngineID')"),
    ("bigquery", "SELECT `advengineid` FROM hits", "hits.select('AdvEngineID')"),  # columns ignore case
    ("postgres", "SELECT count(*), sum(userid) FROM hits", "hits.agg(count=_.count(), sum=hits.UserID.sum())"),
])
def test_other_dialects_fold_unquoted_names_and_keep_quoted_ones(dialect, sql, code):
    assert sql_to_ibis(sql, dialect=dialect, catalog=CATALOG).code.split("\n\n")[-1] == code


@pytest.mark.parametrize("dialect", ["postgres", "snowflake"])
def test_quoted_name_in_another_case_is_refused_where_the_engine_would(dialect):
    with pytest.raises(UnsupportedSQL, match="quoted name"):
        sql_to_ibis('SELECT "ADVENGINEID" FROM hits' if dialect == "postgres" else 'SELECT "advengineid" FROM hits',
                    dialect=dialect, catalog=CATALOG)


def test_columns_equal_but_for_case_are_refused_not_guessed():
    catalog = {"t": {"a": "int64", "A": "int64"}}
    with pytest.raises(UnsupportedSQL, match="differ only in case"):
        sql_to_ibis("SELECT a FROM t", catalog=catalog)


def test_aliases_keep_their_spelling_through_ctes():
    code = sql_to_ibis(
        "WITH Daily AS (SELECT UserID, COUNT(*) AS PageViews FROM hits GROUP BY UserID) "
        "SELECT userid, pageviews FROM daily WHERE PAGEVIEWS > 2 ORDER BY PageViews DESC",
        catalog=CATALOG,
    ).code
    assert "PageViews=_.count()" in code and "daily.PageViews > 2" in code
    assert "pageviews" not in code


# Output names checked against DuckDB itself: the Ibis result's columns equal the SQL's.
NAMED = [
    "SELECT SUM(Amount), COUNT(*), AVG(Amount), MIN(OrderedAt), COUNT(DISTINCT CustomerID) FROM Orders",
    "SELECT Status, count(*), max(Amount) AS Biggest FROM Orders GROUP BY Status",
    "SELECT OrderID, OrderID - 1, OrderID * 2, 1, length(Status), upper(SKU) FROM Orders",
    "SELECT customerid, Region AS REGION_NAME FROM customers",
    "SELECT o.OrderID, c.Region FROM Orders o JOIN Customers c ON o.CustomerID = c.CustomerID",
]


def test_repeated_output_names_get_suffixes_as_duckdb_stores_them(mixed_con, mixed_catalog):
    sql = "SELECT Status, status, count(*), COUNT(*) FROM Orders GROUP BY Status"
    outcome = convert_and_check(sql, mixed_con, catalog=mixed_catalog, timeout_s=30)
    assert outcome.matched, f"{outcome.stage}: {outcome.message}\n{outcome.code}"
    report = verify(outcome.code, {"Orders": mixed_con.table("Orders")})
    assert list(report.expression.columns) == ["Status", "Status_1", "count_star()", "count_star()_1"]


@pytest.mark.parametrize("sql", NAMED)
def test_output_names_are_the_engines(mixed_con, mixed_catalog, sql):
    outcome = convert_and_check(sql, mixed_con, catalog=mixed_catalog, timeout_s=30)
    assert outcome.matched, f"{outcome.stage}: {outcome.message}\n{outcome.code}"
    expected = [d[0] for d in mixed_con.con.execute(sql).description]
    report = verify(outcome.code, {v: mixed_con.table(t) for v, t in outcome.conversion.tables.items()})
    assert list(report.expression.columns) == expected
