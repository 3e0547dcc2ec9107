"""Every TPC-H query converts to Ibis that passes the verifier and returns the SQL's rows."""

from __future__ import annotations

import pytest

from ibert_jupyter.data import tpc
from ibert_jupyter.sql.transpile.checked import convert_and_check

QUERIES = tpc.sql_queries("h")


@pytest.mark.parametrize("number", sorted(QUERIES))
def test_tpch_query_matches_sql(tpch_con, tpch_catalog, number):
    outcome = convert_and_check(QUERIES[number], tpch_con, catalog=tpch_catalog, timeout_s=60)
    assert outcome.matched, f"q{number:02d} {outcome.stage}: {outcome.message}\n{outcome.code}"
