"""The verifier's worker pool: reuse, deadlines off the main thread, restarts, `provided`."""

from __future__ import annotations

import threading
import time

import ibis
import pytest

from ibert_jupyter.verify import verify
from ibert_jupyter.verify.pool import WorkerPool


@pytest.fixture(scope="module")
def pool():
    p = WorkerPool(size=2)
    yield p
    p.close()


@pytest.fixture(scope="module")
def tables():
    return {"t": ibis.table({"a": "int64", "s": "string"}, name="events")}


def test_candidates_run_in_a_worker_not_here(pool, tables):
    report = verify("t.filter(t.a > 1)", tables, pool=pool)
    assert report.ok and report.table_references == ["events"]
    assert report.isolation["process"] is True
    assert '"events"' in report.sql


def test_c_level_loop_off_the_main_thread_is_stopped_on_time(pool, tables):
    """The server verifies on worker threads; the deadline must hold there too."""
    out = {}

    def work():
        t0 = time.monotonic()
        out["report"] = verify("sum(range(10**12))\nt", tables, build_timeout_s=0.5, pool=pool)
        out["elapsed"] = time.monotonic() - t0

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(10)
    assert not thread.is_alive()
    assert out["report"].error_type == "CandidateTimeout" and out["report"].stage == "build"
    assert out["elapsed"] < 3.0


def test_a_worker_that_hit_a_limit_is_replaced(pool, tables):
    restarts = pool.restarts
    report = verify("n = 10**10\nx = 'a' * n\nt", tables, pool=pool)
    assert report.error_type == "MemoryError"
    assert pool.restarts == restarts + 1
    assert verify("t.a.sum()", tables, pool=pool).ok


def test_concurrent_callers_share_the_pool(pool, tables):
    results = []

    def work(i):
        results.append(verify(f"t.filter(t.a > {i}).count()", tables, pool=pool))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(results) == 6 and all(r.ok for r in results)
    assert {r.sql.count(">") for r in results} == {1}


def test_type_check_and_sql_stages_have_a_deadline_too(pool, tables):
    code = "e = t.a\nfor i in range(60):\n    e = e + e\nt.mutate(b=e)"
    t0 = time.monotonic()
    report = verify(code, tables, build_timeout_s=0.5, pool=pool)
    assert not report.ok and report.error_type == "CandidateTimeout"
    assert time.monotonic() - t0 < 3.0


def test_provided_names_missing_import_is_named(pool, tables):
    report = verify("t.filter(_.a > 1)", tables, provided=frozenset({"ibis"}), pool=pool)
    assert not report.ok and report.stage == "build" and report.error_type == "NameError"
    assert report.message == "`_` is not imported in this notebook: add `from ibis import _`"
    report = verify("t.select(s.numeric())", tables, provided=frozenset(), pool=pool)
    assert "add `import ibis.selectors as s`" in report.message
    report = verify("t.mutate(b=ibis.literal(1))", tables, provided=frozenset(), pool=pool)
    assert "`ibis` is not imported" in report.message


def test_provided_names_are_supplied(pool, tables):
    assert verify("t.select(s.numeric())", tables, provided={"s"}, pool=pool).ok
    assert verify("t.filter(_.a > 1)", tables, provided={"_"}, pool=pool).ok
    # None keeps today's behaviour: ibis and _ are there
    assert verify("t.filter(_.a > ibis.literal(1))", tables, provided=None, pool=pool).ok
    # code that imports what it needs verifies whatever the namespace binds
    assert verify("from ibis import _\nt.filter(_.a > 1)", tables, provided=frozenset(), pool=pool).ok


def test_bad_helpers_and_provided_raise_clear_errors(pool, tables):
    from ibert_jupyter.verify import VerifierInputError

    with pytest.raises(VerifierInputError, match="helper 'f' cannot be sent"):
        verify("t", tables, helpers={"f": lambda x: x}, pool=pool)
    with pytest.raises(VerifierInputError, match="provided must be"):
        verify("t", tables, provided="ibis", pool=pool)


def test_match_statements_are_rejected(pool, tables):
    report = verify("match t:\n    case ibis.expr.types.Table(get_backend=gb):\n        gb()\nt", tables, pool=pool)
    assert report.stage == "sandbox" and "'match' statements" in report.message


def test_report_expression_runs_the_checked_sql(tpch_con):
    report = verify("region.filter(region.r_regionkey > 1).select('r_name')", {"region": tpch_con.table("region")})
    assert report.ok
    assert len(tpch_con.execute(report.expression)) == 3
    column = verify("region.r_regionkey", {"region": tpch_con.table("region")})
    assert list(tpch_con.execute(column.expression)) == [0, 1, 2, 3, 4]
    scalar = verify("region.r_regionkey.sum()", {"region": tpch_con.table("region")})
    assert tpch_con.execute(scalar.expression) == 10


def test_without_namespaces_the_report_says_so_and_still_verifies(tables):
    plain = WorkerPool(size=1, namespaces=False)
    try:
        report = verify("t.filter(t.a > 1)", tables, pool=plain)
        assert report.ok
        assert any("namespaces turned off" in m for m in report.isolation["missing"])
        assert not any(a.startswith("namespaces") for a in report.isolation["applied"])
    finally:
        plain.close()


def test_derived_tables_show_the_users_own_sql_and_preview(pool):
    con = ibis.duckdb.connect()
    con.create_table("events", ibis.memtable({"a": [1, 2, 3]}))
    recent = con.table("events").filter(ibis._.a > 1)
    report = verify("recent.mutate(b=recent.a * 2)", {"recent": recent}, preview=True, pool=pool)
    assert report.ok, report.summary()
    assert "ibert_input_" not in report.sql and '"events"' in report.sql
    rows = sorted(zip(report.preview["a"], report.preview["b"]))
    assert rows == [(2, 4), (3, 6)]


def test_worker_imports_from_the_parents_sys_path(tmp_path, monkeypatch, tables):
    """`python -I` drops PYTHONPATH: the pool hands the worker the parent's sys.path, so a
    helper (or ibis itself) reachable only through such an entry still imports in the worker."""
    (tmp_path / "ibert_path_probe.py").write_text("def doubled(x):\n    return x * 2\n")
    monkeypatch.syspath_prepend(str(tmp_path))  # like a PYTHONPATH entry: in sys.path, not site-packages
    from ibert_path_probe import doubled

    fresh = WorkerPool(size=1, namespaces=False)  # a worker started after the path was added
    try:
        report = verify("t.mutate(b=doubled(t.a))", tables, helpers={"doubled": doubled}, pool=fresh)
    finally:
        fresh.close()
    assert report.ok, report.message
