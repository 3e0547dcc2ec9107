"""The verifier on real DuckDB TPC-H data and on broken candidates."""

from __future__ import annotations

import ast

import ibis
import pandas as pd
import pytest

from ibert_jupyter.data import tpc
from ibert_jupyter.verify import VerifierInputError, verify
from ibert_jupyter.verify.verifier import bind_result

QUERIES = tpc.reference_queries("h")


def test_all_22_tpch_reference_queries_ship_in_the_ibis_wheel():
    assert [q.number for q in QUERIES] == list(range(1, 23))


def _normalize(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object:
            out[col] = out[col].map(lambda v: float(v) if hasattr(v, "as_tuple") else v)
    return out.reset_index(drop=True)


@pytest.mark.parametrize("query", QUERIES, ids=[q.name for q in QUERIES])
def test_tpch_reference_query_verifies_and_preview_equals_direct_execution(tpch_con, query):
    tables = {name: tpch_con.table(name) for name in query.tables}
    report = verify(query.code, tables, helpers=tpc.reference_helpers(), preview=True, preview_rows=100_000)
    assert report.ok, report.summary()
    assert report.dialect == "duckdb"
    assert report.sql and "SELECT" in report.sql
    assert set(report.timings_ms) == {"parse", "sandbox", "build", "typecheck", "sql", "preview"}
    assert all(f"{name} (duckdb)" in report.verified_against for name in query.tables)

    # direct execution of the same code, outside the verifier's sandbox
    namespace = {"ibis": ibis, **tpc.reference_helpers(), **tables}
    tree, name = bind_result(ast.parse(query.code))
    exec(compile(tree, "<direct>", "exec"), namespace)  # noqa: S102 - trusted reference
    expected = tpch_con.execute(namespace[name])
    preview = report.preview
    assert list(preview.columns) == list(expected.columns)
    assert len(preview) == len(expected)
    pd.testing.assert_frame_equal(_normalize(preview), _normalize(expected), check_dtype=False, atol=1e-6)


def test_wrong_column_points_at_its_line_and_column(tpch_con):
    code = "q = lineitem.filter(lineitem.l_shipdate > ibis.date('1995-01-01'))\nq.group_by('l_returnflag').agg(total=q.l_extendedprise.sum())"
    report = verify(code, {"lineitem": tpch_con.table("lineitem")})
    assert not report.ok
    assert report.stage == "build"
    assert report.error_type == "AttributeError"
    assert "l_extendedprise" in report.message
    assert report.line == 2
    assert report.column == code.splitlines()[1].index(".l_extendedprise") + 2


def test_wrong_string_column_in_group_by_is_reported(tpch_con):
    report = verify("lineitem.group_by('l_flag').agg(n=lineitem.count())", {"lineitem": tpch_con.table("lineitem")})
    assert not report.ok and report.stage == "build"
    assert "l_flag" in report.message and report.line == 1


def test_type_error_is_reported_at_build(tpch_con):
    code = "li = lineitem\nli.filter(li.l_comment > li.l_shipdate)"
    report = verify(code, {"lineitem": tpch_con.table("lineitem")})
    assert not report.ok and report.stage == "build"
    assert report.error_type == "IbisTypeError" and "not comparable" in report.message
    assert report.line == 2


def test_syntax_error_has_position():
    report = verify("t.filter(\n", {"t": ibis.table({"a": "int"}, name="t")})
    assert (report.ok, report.stage, report.error_type) == (False, "parse", "SyntaxError")
    assert report.line is not None


def test_non_expression_result_is_a_typecheck_failure():
    report = verify("x = 1", {"t": ibis.table({"a": "int"}, name="t")})
    assert not report.ok and report.stage == "typecheck"
    assert "not an Ibis expression" in report.message


def test_unbound_tables_verify_without_a_backend():
    t = ibis.table({"a": "int64", "b": "string"}, name="events")
    report = verify("t.group_by('b').agg(n=t.a.sum())", {"t": t}, dialect="postgres")
    assert report.ok
    assert report.dialect == "postgres"
    assert report.schema == {"b": "string", "n": "int64"}
    assert report.verified_against == ["t (unbound)"]


def test_preview_respects_the_row_limit(tpch_con):
    report = verify("lineitem", {"lineitem": tpch_con.table("lineitem")}, preview=True, preview_rows=7)
    assert report.ok and len(report.preview) == 7


def test_preview_execution_error_is_reported(tpch_con):
    code = "orders.mutate(x=orders.o_orderpriority.cast('int64'))"
    report = verify(code, {"orders": tpch_con.table("orders")}, preview=True)
    assert not report.ok and report.stage == "preview"
    assert report.error_type  # DuckDB's ConversionException surfaces by name


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(VerifierInputError, match="must be a string"):
        verify(b"t", {})
    with pytest.raises(VerifierInputError, match="'t' is not an Ibis table"):
        verify("t", {"t": 3})


def test_report_is_json_serialisable(tpch_con):
    import json

    report = verify("region", {"region": tpch_con.table("region")}, preview=True)
    data = json.loads(json.dumps(report.to_dict(), default=str))
    assert data["ok"] and len(data["preview"]) == 5


def test_drop_null_verifies_but_drop_table_is_refused():
    # `drop_` guards backend methods; Table.drop_null only builds an expression
    t = ibis.table({"a": "int64", "b": "string"}, name="t")
    assert verify("t.drop_null('a')", {"t": t}).ok
    refused = verify("t.drop_table('t')", {"t": t})
    assert not refused.ok and refused.stage == "sandbox"
