"""Queries written for Postgres, Snowflake and BigQuery, read with their dialect and run on
DuckDB: each converts to code with the rows DuckDB returns for the same SQL (transpiled by
sqlglot), or is refused naming the construct whose meaning would change."""

from __future__ import annotations

import pytest

from ibert_jupyter.sql.transpile import UnsupportedSQL, sql_to_ibis
from ibert_jupyter.sql.transpile.checked import convert_and_check

# (dialect, SQL as a user of that engine writes it)
CARRY = {
    "pg folded names": ("postgres", "SELECT customerid, region, signupdate FROM customers WHERE vip ORDER BY customerid"),
    "pg quoted exact": ("postgres", 'SELECT "CustomerID", "FullName" FROM "Customers" WHERE "FullName" IS NOT NULL ORDER BY 1'),
    "pg date_trunc": ("postgres", "SELECT date_trunc('week', orderedat) AS wk, count(*) AS n FROM orders GROUP BY 1 ORDER BY 1"),
    "pg strpos ilike": ("postgres", "SELECT orderid, strpos(sku, '-aa') AS p FROM orders WHERE status ILIKE 'SHIPPED' ORDER BY orderid LIMIT 20"),
    "pg regex": ("postgres", "SELECT count(*) AS n FROM orders WHERE promocode ~ '^SPRING-[0-3]$' OR sku ~* 'AA'"),
    "pg regexp_replace g": ("postgres", "SELECT orderid, regexp_replace(sku, '[a-z]', 'X', 'g') AS masked FROM orders ORDER BY orderid LIMIT 15"),
    "pg filter": ("postgres", "SELECT region, count(*) FILTER (WHERE vip) AS vips, count(*) AS n FROM customers GROUP BY region ORDER BY region"),
    "pg distinct from": ("postgres", "SELECT count(*) AS n FROM orders WHERE promocode IS DISTINCT FROM 'fall10'"),
    "pg extract dow": ("postgres", "SELECT EXTRACT(DOW FROM orderedat) AS dow, count(*) AS n FROM orders GROUP BY 1 ORDER BY 1"),
    "pg concat nulls": ("postgres", "SELECT orderid, concat(status, '/', promocode) AS tag FROM orders ORDER BY orderid LIMIT 12"),
    "pg interval": ("postgres", "SELECT orderid, orderedat + INTERVAL '3 days' AS later FROM orders WHERE orderedat < TIMESTAMP '2023-03-20' ORDER BY orderid"),
    "pg join alias case": ("postgres", "SELECT c.Region, sum(o.Amount) AS Total FROM Orders o JOIN Customers c ON o.CustomerID = c.CustomerID GROUP BY c.Region ORDER BY Total DESC"),
    "sf upper names": ("snowflake", "SELECT CUSTOMERID, REGION FROM CUSTOMERS WHERE SIGNUPDATE >= '2023-06-01' ORDER BY CUSTOMERID"),
    "sf datediff": ("snowflake", "SELECT OrderID, DATEDIFF(day, '2023-03-01'::date, OrderedAt::date) AS age FROM Orders ORDER BY OrderID LIMIT 30"),
    "sf dateadd": ("snowflake", "SELECT OrderID, DATEADD(month, 1, OrderedAt) AS next_month FROM Orders ORDER BY OrderID LIMIT 10"),
    "sf qualify": ("snowflake", "SELECT CustomerID, OrderID, Amount FROM Orders QUALIFY ROW_NUMBER() OVER (PARTITION BY CustomerID ORDER BY Amount DESC, OrderID) = 1 ORDER BY CustomerID"),
    "sf iff count_if": ("snowflake", "SELECT Status, COUNT_IF(Amount > 50) AS big, SUM(IFF(PromoCode IS NULL, 0, 1)) AS promos FROM Orders GROUP BY Status ORDER BY Status"),
    "sf regexp_like full": ("snowflake", "SELECT COUNT(*) AS n FROM Orders WHERE REGEXP_LIKE(SKU, 'sku-1[0-2]')"),
    "sf regexp_replace all": ("snowflake", "SELECT OrderID, REGEXP_REPLACE(SKU, '-', '_') AS s FROM Orders ORDER BY OrderID LIMIT 10"),
    "sf ntile": ("snowflake", "SELECT OrderID, NTILE(5) OVER (ORDER BY Amount, OrderID) AS bucket FROM Orders ORDER BY OrderID"),
    "sf date_trunc": ("snowflake", "SELECT DATE_TRUNC('MONTH', OrderedAt) AS m, COUNT(*) AS n FROM Orders GROUP BY 1 ORDER BY 1"),
    "bq date_diff": ("bigquery", "SELECT OrderID, DATE_DIFF(DATE(OrderedAt), DATE '2023-03-01', DAY) AS days FROM Orders ORDER BY OrderID LIMIT 25"),
    "bq timestamp_trunc": ("bigquery", "SELECT TIMESTAMP_TRUNC(OrderedAt, HOUR) AS h, COUNT(*) AS n FROM Orders GROUP BY h ORDER BY h LIMIT 20"),
    "bq regexp_contains": ("bigquery", "SELECT COUNT(*) AS n FROM Orders WHERE REGEXP_CONTAINS(SKU, r'-aa-')"),
    "bq countif": ("bigquery", "SELECT Status, COUNTIF(PromoCode IS NULL) AS no_promo FROM Orders GROUP BY Status ORDER BY Status"),
    "bq date_add": ("bigquery", "SELECT OrderID, DATE_ADD(DATE(OrderedAt), INTERVAL 7 DAY) AS due FROM Orders ORDER BY OrderID LIMIT 10"),
    "bq qualify": ("bigquery", "SELECT Region, CustomerID FROM Customers WHERE TRUE QUALIFY RANK() OVER (PARTITION BY Region ORDER BY SignupDate DESC, CustomerID) <= 2 ORDER BY Region, CustomerID"),
}

REFUSED = {
    "pg quoted wrong case": ("postgres", 'SELECT "customerid" FROM "Customers"', "quoted name"),
    "pg integer division": ("postgres", "SELECT OrderID / 7 AS q FROM Orders", "integer"),
    "pg regexp_replace first": ("postgres", "SELECT regexp_replace(SKU, '[a-z]', 'X') AS s FROM Orders", "REGEXP_REPLACE"),
    "pg initcap": ("postgres", "SELECT initcap(Status) AS s FROM Orders", "INITCAP"),
    "bq week trunc": ("bigquery", "SELECT DATE_TRUNC(DATE(OrderedAt), WEEK) AS w FROM Orders", "WEEK"),
    "bq timestamp_diff": ("bigquery", "SELECT TIMESTAMP_DIFF(OrderedAt, TIMESTAMP '2023-03-01', HOUR) AS h FROM Orders", "TimestampDiff"),
    "duckdb strlen": ("duckdb", "SELECT strlen(Region) AS n FROM Customers", "STRLEN"),
    "duckdb split_part": ("duckdb", "SELECT split_part(SKU, '-', 3) AS p FROM Orders", "SPLIT_PART"),
    "duckdb string_agg": ("duckdb", "SELECT string_agg(SKU, ',') AS s FROM Orders", "unspecified"),
    "duckdb any_value": ("duckdb", "SELECT Status, any_value(SKU) AS s FROM Orders GROUP BY 1", "arbitrary"),
    "duckdb median text": ("duckdb", "SELECT median(Status) AS m FROM Orders", "MEDIAN"),
    "pg to_char": ("postgres", "SELECT to_char(OrderedAt, 'YYYY') AS y FROM Orders", "format"),
}


@pytest.mark.parametrize("name", sorted(CARRY))
def test_other_dialect_carries_to_duckdb(mixed_con, mixed_catalog, name):
    dialect, sql = CARRY[name]
    outcome = convert_and_check(sql, mixed_con, dialect=dialect, catalog=mixed_catalog, timeout_s=30)
    assert outcome.matched, f"{name}: {outcome.stage}: {outcome.message}\n{outcome.code}"


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_changed_meaning_is_refused_with_a_reason(mixed_catalog, name):
    dialect, sql, construct = REFUSED[name]
    with pytest.raises(UnsupportedSQL) as info:
        sql_to_ibis(sql, dialect=dialect, catalog=mixed_catalog)
    assert construct.lower() in str(info.value).lower()


def test_bigquery_dayofweek_counts_from_sunday_as_one(mixed_con, mixed_catalog):
    """BigQuery's DAYOFWEEK is 1 (Sunday) .. 7; sqlglot's DuckDB text would say 0 .. 6, so this
    case is checked against the calendar instead of against DuckDB."""
    from ibert_jupyter.verify import verify

    sql = "SELECT OrderedAt, EXTRACT(DAYOFWEEK FROM OrderedAt) AS d FROM Orders"
    conversion = sql_to_ibis(sql, dialect="bigquery", catalog=mixed_catalog)
    report = verify(conversion.code, {"Orders": mixed_con.table("Orders")})
    assert report.ok, report.summary()
    rows = mixed_con.execute(report.expression)
    expected = (rows["OrderedAt"].dt.dayofweek + 1) % 7 + 1  # pandas: Monday = 0
    assert (rows["d"] == expected).all()
    assert set(rows["d"]) == set(range(1, 8))


def test_convert_command_reads_a_snowflake_query_over_a_duckdb_file(capsys, tmp_path):
    """`ibert convert --dialect snowflake --duckdb FILE --verify`: upper-case names resolve to
    the file's Mixed-Case columns, and the rows match."""
    import duckdb

    from ibert_jupyter.cli import main

    db = tmp_path / "shop.duckdb"
    raw = duckdb.connect(str(db))
    raw.execute("CREATE TABLE Orders AS SELECT i AS OrderID, i % 3 AS StatusCode FROM range(10) r(i)")
    raw.close()
    sql = tmp_path / "q.sql"
    sql.write_text("SELECT STATUSCODE, COUNT(*) AS N FROM ORDERS GROUP BY 1 ORDER BY 1")
    assert main(["convert", str(sql), "--dialect", "snowflake", "--duckdb", str(db), "--verify"]) == 0
    out, err = capsys.readouterr()
    assert ".group_by('StatusCode')" in out and "N=_.count()" in out
    assert "matched the SQL's rows" in err
