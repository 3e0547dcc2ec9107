"""Each mistake kind of issue 19 in a real IPython shell: the error is raised for real, captured
by the magic's exception hook, repaired by ``%ibert_fix --no-model``, and the fix is run in the
same shell and compared with what the user meant. Tables: the seeded shop database (DuckDB)."""

from __future__ import annotations

import pytest
from IPython.core.interactiveshell import InteractiveShell

from ibert_jupyter.jupyter.magics_fix import FixMagics, checked_against, tried_lines
from ibert_jupyter.repair.reports_corpus import connect_shop
from ibert_jupyter.results_equal import as_frame, results_equal


@pytest.fixture(scope="module")
def shop():
    con = connect_shop()
    yield con
    con.disconnect()


@pytest.fixture()
def shell(shop):
    import ibis

    ip = InteractiveShell.instance()
    ip.user_ns.update({name: shop.table(name) for name in shop.list_tables()})
    ip.user_ns["ibis"] = ibis
    ip.user_ns["_"] = ibis._
    magics = FixMagics(shell=ip)
    ip.register_magics(magics)
    yield ip, magics
    ip.set_custom_exc((), None)


def _value(ip, code):
    ns = dict(ip.user_ns)
    *body, last = code.strip().splitlines()
    exec("\n".join(body), ns)  # noqa: S102 - test cells
    value = eval(last, ns)  # noqa: S307
    return as_frame(value.execute() if hasattr(value, "execute") else value)


def _fix(ip, magics, broken):
    outcome = ip.run_cell(broken, store_history=True)
    assert outcome.error_in_exec is not None or outcome.error_before_exec is not None, "the broken cell must fail"
    magics.last_result = None
    ip.run_line_magic("ibert_fix", "--no-model")
    return magics.last_result


SAFE = [  # (broken, intended): meaning-preserving edits, shown as verified
    ('penguins.filter(penguins.species.isin("Adelie", "Gentoo"))',
     'penguins.filter(penguins.species.isin(["Adelie", "Gentoo"]))'),
    ('sales.mutate(status=sales.status.replace({"shipped": "done"}))',
     'sales.mutate(status=sales.status.substitute({"shipped": "done"}))'),
    ('penguins.mutate(size=ibis.case().when(penguins.body_mass_g > 4500, "large").else_("small").end())',
     'penguins.mutate(size=ibis.cases((penguins.body_mass_g > 4500, "large"), else_="small"))'),
    ('sales.mutate(currency="EUR")', 'sales.mutate(currency=ibis.literal("EUR"))'),
    ('customers.mutate(label=customers.name + "-" + customers.customer_id)',
     'customers.mutate(label=customers.name + "-" + customers.customer_id.cast("string"))'),
    ('sales.mutate(prev=sales.amount.shift(1).over(order_by="sale_id"))',
     'sales.mutate(prev=sales.amount.lag(1).over(order_by="sale_id"))'),
    ('sales.mutate(running=sales.amount.cumsum(ascending=True, order_by="sale_id"))',
     'sales.mutate(running=sales.amount.cumsum(order_by="sale_id"))'),
    ('sales.filter(sales.status = "shipped")', 'sales.filter(sales.status == "shipped")'),
    ('penguins.filter((penguins.species == "Adelie") and (penguins.island == "Dream"))',
     'penguins.filter((penguins.species == "Adelie") & (penguins.island == "Dream"))'),
    ('sales.filter(not sales.status.isnull())', 'sales.filter(~sales.status.isnull())'),
    ('sales.filter(sales.amount > 50 & sales.channel == "web")',
     'sales.filter((sales.amount > 50) & (sales.channel == "web"))'),
    ('sales.join(customers, on="customer_id")', 'sales.join(customers, "customer_id")'),
    ('sales.join(customers, "customer_id").select("sale_id", "city_x", "city_y")',
     'sales.join(customers, "customer_id").select("sale_id", "city", "city_right")'),
    ('sales.filter(sales.channel in ["web", "store"])', 'sales.filter(sales.channel.isin(["web", "store"]))'),
    ('sales.drop(columns=["city"])', 'sales.drop("city")'),
    ('sales.select("sale_id", "amount").rename({"amount": "total"})', 'sales.select("sale_id", total="amount")'),
    ('sales.join(customers, sales.customer_id == customers.customer_id, how="left_outer")',
     'sales.left_join(customers, sales.customer_id == customers.customer_id)'),
    # two mistakes in one cell: each fixed in turn
    ('sales.groupby("channel").agg({"amount": "sum"})', 'sales.group_by("channel").aggregate(amount=sales.amount.sum())'),
    ('sales.groupby("channel")["amount"].sum()', 'sales.group_by("channel").aggregate(amount=sales.amount.sum())'),
    ('sales.groupby("channel").aggregate(total=_.amount.sum()).order_by(ibis.desc("totl"))',
     'sales.group_by("channel").aggregate(total=_.amount.sum()).order_by(ibis.desc("total"))'),
]


@pytest.mark.parametrize("broken,intended", SAFE, ids=[b[:40] for b, _ in SAFE])
def test_meaning_preserving_fixes_are_verified_and_right(shell, broken, intended):
    ip, magics = shell
    result = _fix(ip, magics, broken)
    assert result.verified, result.explanation()
    assert results_equal(_value(ip, intended), _value(ip, result.fixed_code), names=True)


GUESSES = [  # meaning-changing edits: they run, but are never shown as verified
    ('sales.aggregate(sales.channel, total=sales.amount.sum())',
     'sales.group_by(sales.channel).aggregate(total=sales.amount.sum())'),
    ('penguins.mutate(r=penguins.body_mass_g.rank(ascending=False))',
     'penguins.mutate(r=ibis.rank().over(order_by=ibis.desc(penguins.body_mass_g)) + 1)'),
    ('sales.filter(_.segment == "retail").select("sale_id", "amount")',
     'sales.join(customers, sales.customer_id == customers.customer_id).filter(_.segment == "retail").select("sale_id", "amount")'),
]


@pytest.mark.parametrize("broken,intended", GUESSES, ids=[b[:40] for b, _ in GUESSES])
def test_meaning_changing_fixes_say_check_and_show_rows(shell, capsys, broken, intended):
    ip, magics = shell
    result = _fix(ip, magics, broken)
    assert result.runs and not result.verified and result.confidence == "check"
    out = capsys.readouterr().out
    assert "runs — check that this is what you meant" in out
    assert "Preview of the result" in out
    assert "verified fix" not in out
    assert results_equal(_value(ip, intended), _value(ip, result.fixed_code), names=True)


def test_column_of_another_table_proposes_a_join_not_a_look_alike(shell):
    ip, magics = shell
    result = _fix(ip, magics, 'sales.group_by("segment").aggregate(total=_.amount.sum())')
    assert result.runs and not result.verified
    assert ".join(customers" in result.fixed_code
    assert "guess" in result.explanation()


def test_fresh_namespace_without_underscore_gets_the_import(shell):
    ip, magics = shell
    ip.user_ns["_"] = ""  # IPython's last output: Ibis's `_` was never imported
    result = _fix(ip, magics, "sales.filter(_.amount > 100)")
    assert result.verified
    assert result.fixed_code.startswith("from ibis import _\n")
    ip.user_ns["_"] = ""
    assert ip.run_cell(result.fixed_code).error_in_exec is None


def test_fix_that_introduces_underscore_adds_its_import(shell):
    ip, magics = shell
    ip.user_ns["_"] = 42  # some earlier output
    result = _fix(ip, magics, 'lineitem = sales\nsales.groupby("channel").aggregate(n=sales.count()).order_by(ibis.desc("nn"))')
    assert result.runs
    if "_." in result.fixed_code:
        assert "from ibis import _" in result.fixed_code


def test_cell_failing_only_for_missing_underscore_is_not_reported_ok(shell):
    ip, magics = shell
    ip.user_ns["_"] = ""
    result = _fix(ip, magics, 'penguins.group_by("species").aggregate(n=_.count())')
    assert result.status != "already-ok"
    assert "from ibis import _" in result.fixed_code


def test_panel_names_only_the_cells_tables_and_what_was_tried(shell, capsys):
    ip, magics = shell
    result = _fix(ip, magics, 'penguins.filter(penguins.bill_lenght_mm > 40)')
    assert result.verified
    assert checked_against(result) and all(label.startswith("penguins") for label in checked_against(result))
    out = capsys.readouterr().out
    assert "customers" not in out.split("Checked against:")[1].splitlines()[0]


def test_unfixed_panel_reports_attempts_without_internal_names(shell, capsys):
    ip, magics = shell
    result = _fix(ip, magics, 'sales.filter(sales.total > 500)')
    out = capsys.readouterr().out
    assert "<ibert-candidate>" not in out and " 1 candidates" not in out
    for line in tried_lines(result):
        assert "<ibert-candidate>" not in line
    assert "Next step" in result.explanation() or "no fix found" in out or result.runs


def test_method_is_not_called_a_column(shell):
    ip, magics = shell
    result = _fix(ip, magics, 'customers.relabel({"name": "customer_name"})')
    assert "Column 'relabel'" not in result.explanation()
    assert result.verified and 'rename({"customer_name": "name"})' in result.fixed_code
