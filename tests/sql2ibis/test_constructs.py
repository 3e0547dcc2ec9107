"""Hand-written SQL beyond the TPC suites: each construct converts to code with equal rows,
or is refused with UnsupportedSQL naming the construct and where it is."""

from __future__ import annotations

import pytest

from ibert_jupyter.sql.transpile import UnsupportedSQL, sql_to_ibis
from ibert_jupyter.sql.transpile.checked import convert_and_check

MATCHING = {
    "right join": "SELECT n_name, r_name FROM region RIGHT JOIN nation ON r_regionkey = n_regionkey AND r_name <> 'ASIA'",
    "full join": "SELECT n_name, r_name FROM nation FULL OUTER JOIN region ON n_regionkey = r_regionkey AND n_nationkey < 5",
    "cross join": "SELECT count(*) AS n FROM region CROSS JOIN nation",
    "self join": "SELECT a.n_name, b.n_name AS other FROM nation a JOIN nation b ON a.n_regionkey = b.n_regionkey AND a.n_nationkey < b.n_nationkey",
    "cte used twice": "WITH r AS (SELECT r_regionkey, r_name FROM region) SELECT x.r_name, y.r_name AS y_name FROM r x JOIN r y ON x.r_regionkey + 1 = y.r_regionkey",
    "intersect": "SELECT n_regionkey FROM nation INTERSECT SELECT r_regionkey FROM region WHERE r_name LIKE 'A%'",
    "except all": "SELECT n_regionkey FROM nation EXCEPT ALL SELECT r_regionkey FROM region",
    "union distinct ordered": "SELECT n_name AS name FROM nation UNION SELECT r_name FROM region ORDER BY name LIMIT 7 OFFSET 3",
    "not in": "SELECT n_name FROM nation WHERE n_regionkey NOT IN (SELECT r_regionkey FROM region WHERE r_name = 'EUROPE')",
    "scalar subquery in select": "SELECT n_name, (SELECT max(r_regionkey) FROM region) - n_regionkey AS gap FROM nation",
    "case coalesce nullif": "SELECT CASE WHEN n_regionkey = 1 THEN 'one' WHEN n_regionkey = 2 THEN 'two' ELSE 'many' END AS k, COALESCE(NULLIF(n_regionkey, 0), -1) AS nz, CASE n_nationkey WHEN 3 THEN 'c' END AS simple FROM nation",
    "extract and date arithmetic": "SELECT EXTRACT(year FROM o_orderdate) AS y, count(*) AS n FROM orders WHERE o_orderdate < DATE '1995-01-01' + INTERVAL 1 MONTH GROUP BY 1 ORDER BY y",
    "string functions": "SELECT upper(substring(n_name, 2, 3)) AS s, length(n_comment) AS l, lower(n_name) || '!' AS x FROM nation WHERE n_name ILIKE '%an%'",
    "distinct": "SELECT DISTINCT n_regionkey FROM nation",
    "having with alias reuse": "SELECT n_regionkey, count(*) AS c FROM nation GROUP BY n_regionkey HAVING count(*) > 4 ORDER BY c DESC, n_regionkey",
    "window frame": "SELECT o_custkey, o_orderdate, sum(o_totalprice) OVER (PARTITION BY o_custkey ORDER BY o_orderdate, o_orderkey ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS s FROM orders WHERE o_custkey < 20",
    "window rank and default frame": "SELECT n_name, rank() OVER (PARTITION BY n_regionkey ORDER BY n_name) AS r, sum(n_nationkey) OVER (ORDER BY n_regionkey) AS running, row_number() OVER (ORDER BY n_name) AS rn FROM nation",
    "correlated exists": "SELECT c_name FROM customer WHERE c_custkey < 50 AND EXISTS (SELECT 1 FROM orders WHERE o_custkey = c_custkey AND o_totalprice > 100000)",
    "correlated scalar": "SELECT o_orderkey FROM orders o WHERE o_totalprice > (SELECT avg(o2.o_totalprice) FROM orders o2 WHERE o2.o_custkey = o.o_custkey) AND o_custkey < 30",
    "grouping sets": "SELECT r_name, n_name, count(*) AS c FROM nation JOIN region ON n_regionkey = r_regionkey GROUP BY GROUPING SETS ((r_name, n_name), (r_name), ())",
    "between and in list": "SELECT p_partkey FROM part WHERE p_size BETWEEN 10 AND 12 AND p_brand IN ('Brand#12', 'Brand#23') AND p_container NOT LIKE 'SM%'",
    "count distinct and filter": "SELECT o_orderstatus, count(DISTINCT o_custkey) AS c, sum(o_totalprice) FILTER (WHERE o_orderpriority = '1-URGENT') AS urgent FROM orders GROUP BY o_orderstatus",
    "group by expression": "SELECT o_orderpriority || '-' || o_orderstatus AS k, count(*) AS n FROM orders GROUP BY o_orderpriority || '-' || o_orderstatus",
}

UNSUPPORTED = {
    "recursive cte": ("WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT n FROM r", "WITH RECURSIVE"),
    "unknown function": ("SELECT my_udf(n_name) AS x FROM nation", "MY_UDF"),
    "unknown table": ("SELECT a FROM no_such_table", "name resolution"),
    "not a query": ("DELETE FROM nation", "Delete"),
    "two statements": ("SELECT 1; SELECT 2", "2 statements"),
    "garbage": ("SELEC n_name FROM", "does not parse"),
}


@pytest.mark.parametrize("name", sorted(MATCHING))
def test_construct_matches_sql(tpch_con, tpch_catalog, name):
    outcome = convert_and_check(MATCHING[name], tpch_con, catalog=tpch_catalog, timeout_s=30)
    assert outcome.matched, f"{name}: {outcome.stage}: {outcome.message}\n{outcome.code}"


@pytest.mark.parametrize("name", sorted(UNSUPPORTED))
def test_unsupported_sql_is_refused_by_name(tpch_catalog, name):
    sql, construct = UNSUPPORTED[name]
    with pytest.raises(UnsupportedSQL) as info:
        sql_to_ibis(sql, catalog=tpch_catalog)
    assert construct.lower() in str(info.value).lower()


def test_unsupported_reports_position(tpch_catalog):
    sql = "SELECT n_name,\n       my_udf(n_comment) AS x\nFROM nation"
    with pytest.raises(UnsupportedSQL) as info:
        sql_to_ibis(sql, catalog=tpch_catalog)
    assert info.value.line == 2
    assert "line 2" in str(info.value)


def test_generated_code_is_idiomatic(tpch_catalog):
    code = sql_to_ibis(
        "SELECT l_returnflag, sum(l_quantity) AS qty FROM lineitem "
        "WHERE l_shipdate <= DATE '1998-09-02' GROUP BY l_returnflag ORDER BY qty DESC",
        catalog=tpch_catalog,
    ).code
    assert code.startswith("import ibis\n")  # runs as a standalone cell
    assert ".filter(lineitem.l_shipdate <= ibis.date('1998-09-02'))" in code
    assert ".group_by('l_returnflag')" in code
    assert "qty=lineitem.l_quantity.sum()" in code
    assert ".order_by(ibis.desc('qty'))" in code
    assert "ibis.table(" not in code and "aggregate(" not in code


def test_bad_catalog_is_a_clear_error():
    from ibert_jupyter.sql.transpile import CatalogError

    with pytest.raises(CatalogError, match="catalog"):
        sql_to_ibis("SELECT 1 AS x FROM t", catalog=None)
    with pytest.raises(CatalogError, match="'t'"):
        sql_to_ibis("SELECT 1 AS x FROM t", catalog={"t": 42})
