"""Property: random SQL over the TPC-H schema converts with equal results or is refused.

Hypothesis builds queries from a small grammar (joins along foreign keys, predicates,
grouping, aggregates, windows, set operations, ordering with limits). Each one must either
raise ``UnsupportedSQL`` or produce code that passes the verifier, runs, and returns the
rows DuckDB returns for the SQL. Any other exception fails the test.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ibert_jupyter.sql.transpile.checked import convert_and_check

# table -> (numeric columns, text columns, date columns); joins along TPC-H keys.
TABLES = {
    "nation": (["n_nationkey", "n_regionkey"], ["n_name", "n_comment"], []),
    "region": (["r_regionkey"], ["r_name"], []),
    "customer": (["c_custkey", "c_nationkey", "c_acctbal"], ["c_name", "c_mktsegment"], []),
    "orders": (["o_orderkey", "o_custkey", "o_totalprice"], ["o_orderstatus", "o_orderpriority"], ["o_orderdate"]),
    "supplier": (["s_suppkey", "s_nationkey", "s_acctbal"], ["s_name"], []),
}
JOINS = {
    ("nation", "region"): "n_regionkey = r_regionkey",
    ("customer", "nation"): "c_nationkey = n_nationkey",
    ("orders", "customer"): "o_custkey = c_custkey",
    ("supplier", "nation"): "s_nationkey = n_nationkey",
}
TEXT_LITERALS = ["'ASIA'", "'F'", "'BUILDING'", "'1-URGENT'", "'GERMANY'", "'O'"]


@st.composite
def from_clause(draw):
    start = draw(st.sampled_from(sorted(TABLES)))
    tables = [start]
    clause = start
    if draw(st.booleans()):
        options = [(a, b) for (a, b) in JOINS if a == start or b == start]
        if options:
            a, b = draw(st.sampled_from(options))
            other = b if a == start else a
            kind = draw(st.sampled_from(["JOIN", "LEFT JOIN", "RIGHT JOIN", "FULL JOIN", ","]))
            if kind == ",":
                clause += f", {other}"
                tables.append(other)
                return clause, tables, [JOINS[(a, b)]]
            clause += f" {kind} {other} ON {JOINS[(a, b)]}"
            tables.append(other)
    return clause, tables, []


def columns(tables, kind):
    index = {"num": 0, "text": 1, "date": 2}[kind]
    return [c for t in tables for c in TABLES[t][index]]


@st.composite
def predicate(draw, tables):
    nums, texts, dates = columns(tables, "num"), columns(tables, "text"), columns(tables, "date")
    choices = ["num", "text"] + (["date"] if dates else [])
    kind = draw(st.sampled_from(choices))
    if kind == "num":
        col = draw(st.sampled_from(nums))
        form = draw(st.sampled_from(["cmp", "between", "in", "null", "arith"]))
        value = draw(st.integers(min_value=0, max_value=30))
        if form == "cmp":
            op = draw(st.sampled_from(["=", "<>", "<", "<=", ">", ">="]))
            return f"{col} {op} {value}"
        if form == "between":
            return f"{col} BETWEEN {value} AND {value + draw(st.integers(0, 20))}"
        if form == "in":
            return f"{col} {draw(st.sampled_from(['IN', 'NOT IN']))} ({value}, {value + 3}, {value + 7})"
        if form == "null":
            return f"{col} IS {draw(st.sampled_from(['', 'NOT ']))}NULL"
        return f"{col} % 3 = {value % 3}"
    if kind == "text":
        col = draw(st.sampled_from(texts))
        form = draw(st.sampled_from(["eq", "like", "length"]))
        if form == "eq":
            return f"{col} {draw(st.sampled_from(['=', '<>']))} {draw(st.sampled_from(TEXT_LITERALS))}"
        if form == "like":
            return f"{col} {draw(st.sampled_from(['LIKE', 'NOT LIKE']))} '%{draw(st.sampled_from(['A', 'E', 'an', 'R']))}%'"
        return f"length({col}) > {draw(st.integers(3, 30))}"
    col = draw(st.sampled_from(dates))
    year = draw(st.integers(1992, 1998))
    return f"{col} {draw(st.sampled_from(['<', '>=']))} DATE '{year}-01-01' + INTERVAL {draw(st.integers(0, 11))} MONTH"


@st.composite
def where_clause(draw, tables, join_preds):
    preds = list(join_preds) + draw(st.lists(predicate(tables), max_size=3))
    if not preds:
        return ""
    if len(preds) >= 2 and draw(st.booleans()) and not join_preds:
        return f" WHERE ({preds[0]} OR {preds[1]})" + "".join(f" AND {p}" for p in preds[2:])
    return " WHERE " + " AND ".join(preds)


@st.composite
def simple_select(draw):
    """(sql, outputs, variant): ``variant`` is the same query with one more predicate."""
    clause, tables, join_preds = draw(from_clause())
    where = draw(where_clause(tables, join_preds))
    extra = draw(predicate(tables))
    variant = f"{where} AND {extra}" if where else f" WHERE {extra}"
    template, outputs = draw(_select_template(clause, tables))
    return template.format(where=where), outputs, template.format(where=variant)


@st.composite
def _select_template(draw, clause, tables):
    where = "{where}"
    nums, texts = columns(tables, "num"), columns(tables, "text")
    shape = draw(st.sampled_from(["project", "aggregate", "window", "distinct"]))
    if shape == "aggregate":
        keys = draw(st.lists(st.sampled_from(texts + nums), min_size=0, max_size=2, unique=True))
        agg_col = draw(st.sampled_from(nums))
        func = draw(st.sampled_from(["sum", "avg", "min", "max", "count"]))
        items = keys + [f"{func}({agg_col}) AS m1", "count(*) AS n"]
        sql = f"SELECT {', '.join(items)} FROM {clause}{where}"
        if keys:
            sql += f" GROUP BY {', '.join(keys)}"
            if draw(st.booleans()):
                sql += f" HAVING count(*) > {draw(st.integers(0, 5))}"
            order = keys + ["m1", "n"]
            return sql, order
        return sql, ["m1", "n"]
    if shape == "window":
        part = draw(st.sampled_from(texts))
        order = draw(st.sampled_from(nums))
        func = draw(st.sampled_from(["rank()", "row_number()", f"sum({order})", "dense_rank()"]))
        sql = (
            f"SELECT {part}, {order}, {func} OVER (PARTITION BY {part} ORDER BY {order}) AS w "
            f"FROM {clause}{where}"
        )
        return sql, [part, order, "w"]
    picked = draw(st.lists(st.sampled_from(texts + nums), min_size=1, max_size=3, unique=True))
    distinct = "DISTINCT " if shape == "distinct" else ""
    extra = ""
    if shape == "project" and draw(st.booleans()):
        num = draw(st.sampled_from(nums))
        extra = f", CASE WHEN {num} > 10 THEN 'big' ELSE 'small' END AS size, {num} * 2 + 1 AS calc"
        picked_out = picked + ["size", "calc"]
    else:
        picked_out = picked
    sql = f"SELECT {distinct}{', '.join(picked)}{extra} FROM {clause}{where}"
    return sql, picked_out


@st.composite
def query(draw):
    sql, outputs, variant = draw(simple_select())
    if draw(st.integers(0, 4)) == 0:
        op = draw(st.sampled_from(["UNION", "UNION ALL", "INTERSECT", "EXCEPT", "EXCEPT ALL"]))
        return f"{sql} {op} {variant}"
    if draw(st.booleans()):
        desc = draw(st.booleans())
        keys = ", ".join(f"{k}{' DESC' if desc and i == 0 else ''}" for i, k in enumerate(outputs))
        sql += f" ORDER BY {keys}"
        if draw(st.booleans()):
            sql += f" LIMIT {draw(st.integers(1, 20))}"
    return sql


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sql=query())
def test_random_sql_converts_faithfully_or_is_refused(tpch_con, tpch_catalog, sql):
    outcome = convert_and_check(sql, tpch_con, catalog=tpch_catalog, timeout_s=30)
    if outcome.stage == "convert":
        assert outcome.message.startswith("unsupported SQL"), outcome.message
        return
    assert outcome.matched, f"{sql}\n-- {outcome.stage}: {outcome.message}\n{outcome.code}"


# -- Mixed-Case and quoted names, and the functions users of DuckDB/Postgres/Snowflake write --
# table -> {column: kind}; kinds pick the functions that apply.
MIXED = {
    "Orders": {"OrderID": "num", "CustomerID": "num", "Amount": "num", "OrderedAt": "ts",
               "Status": "text", "PromoCode": "text", "SKU": "text"},
    "Customers": {"CustomerID": "num", "FullName": "text", "Region": "text", "SignupDate": "date"},
}


@st.composite
def spelled(draw, name):
    """A spelling DuckDB resolves to ``name``: any case unquoted, or quoted (any case too)."""
    form = draw(st.sampled_from(["as is", "lower", "upper", "quoted", "quoted lower"]))
    if form == "lower":
        return name.lower()
    if form == "upper":
        return name.upper()
    if form == "quoted":
        return f'"{name}"'
    if form == "quoted lower":
        return f'"{name.lower()}"'
    return name


@st.composite
def mixed_expression(draw, columns):
    """(SQL expression, is it an aggregate-free scalar) over ``columns`` (name -> kind)."""
    kind_of = dict(columns)
    by_kind = {k: [c for c, kk in kind_of.items() if kk == k] for k in ("num", "text", "ts", "date")}
    choices = [k for k, cs in by_kind.items() if cs]
    kind = draw(st.sampled_from(choices))
    col = draw(spelled(draw(st.sampled_from(by_kind[kind]))))
    if kind == "num":
        return draw(st.sampled_from([
            f"{col} * 2 + 1", f"{col} % 7", f"round({col} / 3.0, 1)", f"greatest({col}, 50)",
            f"CASE WHEN {col} > 100 THEN 'big' ELSE 'small' END", f"{col} IS DISTINCT FROM 10",
            f"log10({col} + 1)", f"power({col}, 2)",
        ]))
    if kind == "text":
        pattern = draw(st.sampled_from(["'^sku-'", "'[0-9]+'", "'^(open|shipped)$'", "'-aa'", "'e'"]))
        return draw(st.sampled_from([
            f"upper({col})", f"length({col})", f"strpos({col}, 'e')", f"position('-' IN {col})",
            f"{col} ILIKE '%S%'", f"{col} NOT ILIKE 'spring%'", f"regexp_replace({col}, {pattern}, 'X')",
            f"regexp_replace({col}, {pattern}, 'X', 'g')", f"regexp_matches({col}, {pattern})",
            f"left({col}, 3)", f"replace({col}, 'e', 'E')", f"concat({col}, '/', {col})",
            f"{col} IS NOT DISTINCT FROM 'fall10'", f"starts_with({col}, 'sku')", f"strlen({col})",
        ]))
    unit = draw(st.sampled_from(["'day'", "'week'", "'month'", "'hour'", "'year'", "'quarter'", "'minute'"]))
    part = draw(st.sampled_from(["year", "month", "day", "dow", "isodow", "hour", "doy", "week", "epoch"]))
    return draw(st.sampled_from([
        f"date_trunc({unit}, {col})", f"datediff({unit}, DATE '2023-03-01', {col})",
        f"date_diff({unit}, {col}, TIMESTAMP '2024-01-01 00:00:00')", f"EXTRACT({part} FROM {col})",
        f"{col} + INTERVAL 3 DAY", f"dayofweek({col})", f"strftime({col}, '%Y-%m %H')",
    ]))


@st.composite
def mixed_query(draw):
    if draw(st.booleans()):
        table = draw(st.sampled_from(sorted(MIXED)))
        columns = dict(MIXED[table])
        from_sql = draw(spelled(table))
    else:
        columns = {**MIXED["Customers"], **MIXED["Orders"]}
        columns.pop("CustomerID")
        o, c = draw(spelled("Orders")), draw(spelled("Customers"))
        key = draw(spelled("CustomerID"))
        from_sql = f"{o} AS o JOIN {c} AS c ON o.{key} = c.{key}"
    shape = draw(st.sampled_from(["project", "group", "window", "qualify"]))
    exprs = draw(st.lists(mixed_expression(list(columns.items())), min_size=1, max_size=3))
    plain = draw(spelled(draw(st.sampled_from(sorted(columns)))))
    alias = draw(st.sampled_from(["Val", "val", "MixedCase", '"Quoted Name"']))
    if shape == "group":
        aggs = draw(st.lists(st.sampled_from([
            "count(*)", "count(*) FILTER (WHERE OrderID % 2 = 0)" if "OrderID" in columns else "count(*)",
            "sum(length(Status)) * 1.0 / count(*)" if "Status" in columns else "count(*) * 2",
            "count_if(length(SKU) > 6)" if "SKU" in columns else "count(*) + 1",
            "var_pop(OrderID)" if "OrderID" in columns else "min(Region)",
            "count(DISTINCT Status)" if "Status" in columns else "count(DISTINCT Region)",
            "median(Amount)" if "Amount" in columns else "median(CustomerID)",
        ]), min_size=1, max_size=3, unique=True))
        items = [f"{exprs[0]} AS {alias}", plain] + [f"{a} AS agg{i}" for i, a in enumerate(aggs)]
        group = draw(st.sampled_from(["1, 2", "ALL", f"{exprs[0]}, {plain}"]))
        sql = f"SELECT {', '.join(items)} FROM {from_sql} GROUP BY {group}"
        if draw(st.booleans()):
            sql += f" HAVING count(*) > {draw(st.integers(0, 3))}"
        width = len(items)
    elif shape in ("window", "qualify"):
        n = draw(st.integers(1, 5))
        order_col = "OrderID" if "OrderID" in columns else "CustomerID"
        window = draw(st.sampled_from([
            f"ntile({n}) OVER (ORDER BY {order_col})", f"row_number() OVER (ORDER BY {order_col} DESC)",
            f"rank() OVER (PARTITION BY {plain} ORDER BY {order_col})",
            f"percent_rank() OVER (PARTITION BY {plain} ORDER BY {order_col})",
        ] + ([] if shape == "qualify" else [  # values, not numbers: not for `w <= n`
            f"first_value({plain}) OVER (ORDER BY {order_col} DESC)",
            f"last_value({plain}) OVER (ORDER BY {order_col} ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)",
        ])))
        items = [f"{order_col}", f"{exprs[0]} AS {alias}", f"{window} AS w"]
        sql = f"SELECT {', '.join(items)} FROM {from_sql}"
        if shape == "qualify":
            sql += f" QUALIFY w <= {n}"
        width = len(items)
    else:
        items = [plain] + [f"{e} AS e{i}" for i, e in enumerate(exprs)]
        sql = f"SELECT {', '.join(items)} FROM {from_sql}"
        width = len(items)
    order = ", ".join(str(i) for i in range(1, width + 1))
    sql += f" ORDER BY {order}"
    if draw(st.booleans()):
        sql += f" LIMIT {draw(st.integers(1, 15))}"
    return sql


@pytest.mark.slow
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sql=mixed_query())
def test_mixed_case_sql_converts_faithfully_or_is_refused(mixed_con, mixed_catalog, sql):
    outcome = convert_and_check(sql, mixed_con, catalog=mixed_catalog, timeout_s=30)
    if outcome.stage == "convert":
        assert outcome.message.startswith("unsupported SQL"), outcome.message
        return
    assert outcome.matched, f"{sql}\n-- {outcome.stage}: {outcome.message}\n{outcome.code}"
