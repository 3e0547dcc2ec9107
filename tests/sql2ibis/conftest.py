"""Fixtures shared by the SQL→Ibis tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tpch_catalog(tpch_con):
    """Table name → Ibis schema of the TPC-H database, the converter's catalog."""
    return {name: tpch_con.get_schema(name) for name in tpch_con.list_tables()}


MIXED_CASE_DDL = """
CREATE TABLE Customers (CustomerID INTEGER, "FullName" VARCHAR, Region VARCHAR, SignupDate DATE, vip BOOLEAN);
CREATE TABLE Orders (OrderID INTEGER, CustomerID INTEGER, OrderedAt TIMESTAMP, Amount DOUBLE,
                     Status VARCHAR, PromoCode VARCHAR, SKU VARCHAR);
INSERT INTO Customers
SELECT i, CASE WHEN i % 7 = 0 THEN NULL ELSE 'Customer ' || i END,
       ['North', 'South', 'East', 'West', 'Zürich'][1 + i % 5],
       DATE '2023-01-01' + INTERVAL (i * 11 % 400) DAY, i % 3 = 0
FROM range(1, 41) r(i);
INSERT INTO Orders
SELECT i, 1 + i % 45, TIMESTAMP '2023-03-01 08:00:00' + INTERVAL (i * 7919 % 500000) MINUTE,
       round((i * 37 % 1000) / 7.0, 2),
       ['open', 'Shipped', 'returned', 'shipped'][1 + i % 4],
       CASE WHEN i % 3 = 0 THEN NULL WHEN i % 3 = 1 THEN 'SPRING-' || (i % 5) ELSE 'fall10' END,
       'sku-' || (i % 13) || CASE WHEN i % 4 = 0 THEN '-aa-bb' ELSE '' END
FROM range(1, 301) r(i);
"""


@pytest.fixture(scope="session")
def mixed_con():
    """DuckDB with Mixed-Case tables and columns (some quoted), NULLs and non-ASCII text."""
    import ibis

    con = ibis.duckdb.connect()
    con.con.execute(MIXED_CASE_DDL)
    yield con
    con.disconnect()


@pytest.fixture(scope="session")
def mixed_catalog(mixed_con):
    return {name: mixed_con.get_schema(name) for name in mixed_con.list_tables()}


@pytest.fixture(scope="session")
def clickbench_con():
    """ClickBench's real ``hits`` schema with a few thousand synthetic rows."""
    from ibert_jupyter.evaluation.bench_sql2ibis import clickbench_connection

    con = clickbench_connection(rows=3000)
    yield con
    con.disconnect()
