"""The one result equality: each rule in its docstring, on real DuckDB, pandas and Arrow results."""

from __future__ import annotations

import datetime as dt
import decimal

import duckdb
import pandas as pd
import pyarrow as pa
import pytest

from ibert_jupyter.results_equal import fingerprint_cell, results_equal
from ibert_jupyter.sql.compare import compare_with_sql
from ibert_jupyter.training.data.gates import fingerprint


def test_rows_are_a_multiset_unless_ordered():
    a = pd.DataFrame({"k": [1, 2, 3], "v": ["a", "b", "c"]})
    shuffled = a.iloc[[2, 0, 1]]
    assert results_equal(a, shuffled)
    assert not results_equal(a, shuffled, order_keys=[0])
    assert not results_equal(a, pd.concat([a.iloc[:2], a.iloc[:1]]))  # same set, other multiset


def test_ties_on_the_sort_keys_may_come_in_any_order_and_differ_in_the_last_group_under_a_limit():
    expected = [(1, "a"), (1, "b"), (2, "c"), (3, "d"), (3, "e")]
    assert results_equal(expected, [(1, "b"), (1, "a"), (2, "c"), (3, "e"), (3, "d")], order_keys=[0])
    assert not results_equal(expected, [(1, "a"), (1, "b"), (2, "c"), (3, "d"), (3, "x")], order_keys=[0])
    assert results_equal(expected, [(1, "a"), (1, "b"), (2, "c"), (3, "d"), (3, "x")], order_keys=[0], limited=True)
    assert not results_equal(expected, [(1, "a"), (1, "x"), (2, "c"), (3, "d"), (3, "e")], order_keys=[0], limited=True)


def test_null_nan_nat_and_pandas_na_are_one_missing_value():
    missing = [None, float("nan"), pd.NaT, pd.NA, decimal.Decimal("NaN")]
    for a in missing:
        for b in missing:
            assert results_equal([(a,)], [(b,)]), (a, b)
        assert not results_equal([(a,)], [(0,)]) and not results_equal([(a,)], [("",)])


def test_floats_within_relative_or_absolute_one_in_a_million():
    assert results_equal([(1_000_000.0,)], [(1_000_000.9,)])  # relative
    assert not results_equal([(1_000_000.0,)], [(1_000_002.0,)])
    assert results_equal([(0.0,)], [(5e-7,)])  # absolute, near zero
    assert not results_equal([(0.0,)], [(5e-6,)])
    assert not results_equal([(0.5,)], [(0.50001,)])


def test_integers_are_exact_but_meet_floats_and_decimals_as_numbers():
    assert not results_equal([(1_000_000,)], [(1_000_001,)])  # within 1e-6 relative, still another count
    assert results_equal([(10**18 + 1,)], [(10**18 + 1,)]) and not results_equal([(10**18 + 1,)], [(10**18,)])
    assert results_equal([(3,)], [(3.0000001,)]) and results_equal([(3,)], [(decimal.Decimal("3.00"),)])
    assert results_equal([(decimal.Decimal("0.0512345"),)], [(0.051234500001,)])


def test_dates_are_midnight_timestamps_and_aware_timestamps_compare_in_utc():
    assert results_equal([(dt.date(2024, 3, 1),)], [(dt.datetime(2024, 3, 1),)])
    assert results_equal([(dt.date(2024, 3, 1),)], [(pd.Timestamp("2024-03-01"),)])
    assert not results_equal([(dt.date(2024, 3, 1),)], [(dt.datetime(2024, 3, 1, 0, 0, 1),)])
    plus2 = dt.timezone(dt.timedelta(hours=2))
    assert results_equal([(dt.datetime(2024, 3, 1, 10, tzinfo=plus2),)], [(dt.datetime(2024, 3, 1, 8, tzinfo=dt.timezone.utc),)])
    assert not results_equal([(dt.datetime(2024, 3, 1, 10, tzinfo=plus2),)], [(dt.datetime(2024, 3, 1, 10, tzinfo=dt.timezone.utc),)])


def test_columns_by_position_names_only_when_asked():
    a, renamed = pd.DataFrame({"x": [1], "y": [2]}), pd.DataFrame({"count_star()": [1], "y": [2]})
    assert results_equal(a, renamed) and not results_equal(a, renamed, names=True)
    assert not results_equal(a, a[["y", "x"]], names=True) and not results_equal(a, a[["y", "x"]])
    assert not results_equal(a, a[["x"]])


def test_pandas_arrow_and_duckdb_results_of_one_query_are_equal():
    con = duckdb.connect()
    sql = ("SELECT i AS k, i * 0.1 AS f, CAST(i * 1.25 AS DECIMAL(10, 2)) AS d, DATE '2024-01-01' + CAST(i AS INTEGER) AS day, "
           "CASE WHEN i % 2 = 0 THEN NULL ELSE TIMESTAMP '2024-01-01 00:00:00' END AS ts FROM range(6) t(i)")
    frame, arrow, rows = con.execute(sql).df(), con.execute(sql).fetch_arrow_table(), con.execute(sql).fetchall()
    assert results_equal(frame, arrow) and results_equal(arrow, rows) and results_equal(rows, frame.iloc[::-1])
    assert fingerprint(frame) == fingerprint(arrow.to_pandas())


def test_scalars_series_and_lists_of_dicts():
    assert results_equal(42, pd.Series([42]))
    assert results_equal([{"a": 1, "b": None}], pd.DataFrame({"a": [1], "b": [float("nan")]}), names=True)
    assert results_equal([([1.0, 2.0],)], [((1.0000001, 2.0),)])  # arrays element by element
    assert not results_equal([([1.0, 2.0],)], [((1.0, 2.0, 3.0),)])
    assert results_equal(pa.table({"a": pa.array([], pa.int64())}), pd.DataFrame({"a": pd.Series([], dtype="int64")}))


def test_the_transpiler_compares_through_it():
    import ibis

    con = ibis.duckdb.connect()
    con.con.execute("CREATE TABLE t AS SELECT i AS k, i % 3 AS g FROM range(10) t(i)")
    t = con.table("t")
    sql = "SELECT g, count(*) AS n FROM t GROUP BY g ORDER BY g"
    assert compare_with_sql(con, sql, t.group_by("g").agg(n=t.count()).order_by("g"))
    off_by_one = t.group_by("g").agg(n=t.count() + 1).order_by("g")
    assert not compare_with_sql(con, sql, off_by_one)


@pytest.mark.parametrize(("value", "form"), [
    (float("nan"), None), (pd.NaT, None), (decimal.Decimal("1.50"), 1.5), (1 / 3, 0.333333333),
    (dt.date(2024, 1, 2), "2024-01-02 00:00:00"), ([1, 2.0], [1, 2.0]), ({"a": None}, {"a": None}),
])
def test_fingerprint_cells(value, form):
    assert fingerprint_cell(value) == form
