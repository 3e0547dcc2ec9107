"""ClickBench's public queries (held out: rules were never tuned to them) over its real
Mixed-Case ``hits`` schema with synthetic rows: ≥ 90 % match, none wrong, none crash."""

from __future__ import annotations

from ibert_jupyter.evaluation.bench_sql2ibis import clickbench_queries
from ibert_jupyter.sql.transpile.checked import convert_and_check

QUERIES = clickbench_queries()


def test_clickbench_suite(clickbench_con):
    catalog = {name: clickbench_con.get_schema(name) for name in clickbench_con.list_tables()}
    outcomes = {n: convert_and_check(sql, clickbench_con, catalog=catalog, timeout_s=60) for n, sql in QUERIES.items()}
    wrong = {n: o.message for n, o in outcomes.items() if o.stage == "compare"}
    broken = {n: o.message for n, o in outcomes.items() if o.stage in ("verify", "run")}
    refused = {n: o.message for n, o in outcomes.items() if o.stage == "convert"}
    matched = sum(o.matched for o in outcomes.values())
    assert len(QUERIES) == 43
    assert not wrong, wrong
    assert not broken, broken
    assert matched / len(QUERIES) >= 0.9, refused
    assert all(m.startswith("unsupported SQL") for m in refused.values()), refused
