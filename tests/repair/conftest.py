"""Fixtures for repair tests: small real DuckDB tables and a real IPython shell."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def con():
    import ibis

    con = ibis.duckdb.connect()
    con.raw_sql(
        "CREATE TABLE orders AS SELECT * FROM (VALUES "
        "(1, 10, 'open', 120.5, DATE '2024-01-03'), (2, 11, 'done', 80.0, DATE '2024-02-10'), "
        "(3, 10, 'done', 15.25, DATE '2024-03-01')) "
        "AS t(o_orderkey, o_custkey, o_status, o_total, o_date)"
    )
    con.raw_sql(
        "CREATE TABLE customers AS SELECT * FROM (VALUES (10, 'ada', 'GB'), (11, 'bob', 'US')) "
        "AS t(c_custkey, c_name, c_country)"
    )
    yield con
    con.disconnect()


@pytest.fixture(scope="module")
def tables(con):
    return {"orders": con.table("orders"), "customers": con.table("customers")}
