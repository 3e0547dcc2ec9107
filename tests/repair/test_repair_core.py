"""The repairer on real DuckDB tables: each error class gets a verified, correct fix."""

from __future__ import annotations

import pytest

from ibert_jupyter.repair import classify, repair
from ibert_jupyter.repair.api_changes import deprecated_methods
from ibert_jupyter.repair.prepare import prepare


def _run(con, result):
    assert result.runs, result.explanation()
    return con.execute(result.report.expression)


GUESSES = {  # fixes that change what the cell computes: they run, but are shown as "check"
    ("n=_.count()", "n=done.count()"), "orders.o_custkey", "orders.filter((orders.o_total > 50))", "try_cast", "s=big.twice.sum()",
}


@pytest.mark.parametrize(
    ("broken", "expected_fragment"),
    [
        ("orders.filter(orders.o_totl > 50)", "orders.o_total"),
        ("orders.groupby('o_status').agg(n=orders.count())", ".group_by('o_status')"),
        ("orders.filter(orders.o_status.str.startswith('d'))", "orders.o_status.startswith('d')"),
        ("orders.select(k=orders.o_custkey.astype(str))", ".cast('string')"),
        ("orders.sort_values('o_total', ascending=False)", "order_by(ibis.desc('o_total'))"),
        ("orders.order_by('o_total', ascending=False)", "ibis.desc('o_total')"),
        ("done = orders.filter(orders.o_status == 'done')\ndone.agg(n=orders.count())", ("n=_.count()", "n=done.count()")),
        ("orders.filter(orders.o_total > '100')", "orders.o_total > 100"),
        ("customers.join(orders, customers.c_custkey == orders.o_status)", "orders.o_custkey"),
        ("customers.join(orders, customers.o_custkey == orders.o_custkey)", "customers.c_custkey == orders.o_custkey"),
        ("ordres.count()", "orders.count()"),
        ("orders.merge(customers, left_on='o_custkey', right_on='c_custkey')", ".join(customers,"),
        ("orders.loc[orders.o_total > 50, ['o_orderkey']]", "orders.filter(orders.o_total > 50).select(['o_orderkey'])"),
        ("orders.select(d=orders.o_total.apply(lambda v: v * 2))", "orders.o_total * 2"),
        ("orders.select(y=orders.o_date.dt.year)", "orders.o_date.year()"),
        ("orders.filter((orders.o_total > 50).count()", "orders.filter((orders.o_total > 50))"),
        ("orders.relabel({'o_total': 'total'})", "rename({'total': 'o_total'})"),
        ("orders.select(x=orders.o_status.cast('int64'))", "try_cast"),
        ("big = orders.mutate(twice=orders.o_total * 2)\nbig.group_by('o_status').agg(s=orders.twice.sum())", "s=big.twice.sum()"),
    ],
)
def test_error_classes_get_verified_fixes(con, tables, broken, expected_fragment):
    result = repair(broken, tables)
    expected = "check" if expected_fragment in GUESSES else "fixed"
    assert result.status == expected, result.explanation()
    assert result.verified == (expected == "fixed")
    fragments = expected_fragment if isinstance(expected_fragment, tuple) else (expected_fragment,)
    assert any(f in result.fixed_code for f in fragments), result.fixed_code
    _run(con, result)
    assert result.sql and "SELECT" in result.sql.upper()
    assert result.diff().startswith("---")


def test_fix_results_are_right_not_just_running(con, tables):
    result = repair("orders.filter(orders.o_totl > 50).order_by('o_orderkey')", tables)
    frame = _run(con, result)
    assert frame["o_orderkey"].tolist() == [1, 2]


def test_execute_suffix_is_stripped_for_verification_and_restored(tables):
    result = repair("orders.groupby('o_status').agg(n=orders.count()).execute()", tables)
    assert result.verified
    assert result.fixed_code.rstrip().endswith(".execute()")
    assert prepare("print(t.x.execute())").code == "t.x"


def test_unfixable_code_is_reported_unverified(tables):
    result = repair("orders.select(orders.o_total.frobnicate_widely(3))", tables)
    assert result.status == "unfixed"
    assert not result.verified and result.sql is None
    assert "No rule produced a fix that runs" in result.explanation()
    assert "candidates" not in result.explanation()


def test_working_code_is_already_ok(tables):
    result = repair("orders.count()", tables)
    assert result.status == "already-ok"


def test_bad_input_is_a_clear_error(tables):
    with pytest.raises(ValueError, match="non-empty string"):
        repair("   ", tables)


def test_classifier_kinds():
    assert classify("AttributeError", "'Table' object has no attribute 'sort_values'").kind == "pandas_idiom"
    assert classify("AttributeError", "Table object has no attribute 'orderby', did you mean 'order_by'").hint == "order_by"
    assert classify("IntegrityError", "Cannot add x to projection, they belong to another relation").kind == "relation_integrity"
    assert classify("NameError", "name 'ordrs' is not defined").name == "ordrs"
    assert classify("BinderException", "Binder Error: no function matches").kind == "backend_error"
    assert classify("TypeError", "Table.limit() missing 1 required positional argument: 'n'").kind == "signature"


def test_deprecations_come_from_installed_ibis():
    found = deprecated_methods()
    assert found["fillna"].replacement == "fill_null"
    assert found["dropna"].replacement == "drop_null"
