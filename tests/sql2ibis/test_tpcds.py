"""TPC-DS: every query converts, passes the verifier and returns the SQL's rows (slow)."""

from __future__ import annotations

import pytest

from ibert_jupyter.data import tpc
from ibert_jupyter.sql.transpile.checked import convert_and_check

QUERIES = tpc.sql_queries("ds")
TARGET = 95


@pytest.mark.slow
def test_tpcds_suite_matches_sql(tpcds_con):
    catalog = {name: tpcds_con.get_schema(name) for name in tpcds_con.list_tables()}
    failures = {}
    for number, sql in QUERIES.items():
        outcome = convert_and_check(sql, tpcds_con, catalog=catalog, timeout_s=60)
        if not outcome.matched:
            failures[number] = f"{outcome.stage}: {outcome.message}"
    matched = len(QUERIES) - len(failures)
    assert matched >= TARGET, f"{matched}/{len(QUERIES)} matched; failures: {failures}"
    assert not failures, failures
