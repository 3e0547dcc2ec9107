"""%ibert_fix and %ibert_lint in a real IPython.InteractiveShell after real exceptions."""

from __future__ import annotations

import pytest
from IPython.core.interactiveshell import InteractiveShell

from ibert_jupyter.jupyter.magics_fix import FixMagics


@pytest.fixture()
def shell(con):
    shell = InteractiveShell.instance()
    shell.user_ns.update(orders=con.table("orders"), customers=con.table("customers"))
    magics = FixMagics(shell=shell)
    shell.register_magics(magics)
    yield shell, magics
    shell.set_custom_exc((), None)


def test_fix_last_failing_cell_and_apply(shell, capsys):
    ip, magics = shell
    ip.run_cell("import ibis\nbig = orders.filter(orders.o_totl > 50)\nbig", store_history=True)
    assert magics.last_error is not None and magics.last_error.error_type == "AttributeError"
    assert "o_totl" in magics.last_error.cell_source
    assert magics.last_error.line == 2

    ip.run_line_magic("ibert_fix", "--no-model")
    result = magics.last_result
    assert result.verified and "orders.o_total > 50" in result.fixed_code
    out = capsys.readouterr().out
    assert "verified fix" in out and "SELECT" in out

    apply_button = magics.last_panel.children[-1].children[0]
    apply_button.click()
    assert ip.rl_next_input == result.fixed_code


def test_fix_by_cell_number(shell):
    ip, magics = shell
    ip.run_cell("n = orders.groupby('o_status').agg(n=orders.count())", store_history=True)
    number = ip.execution_count - 1
    ip.run_cell("1 + 1", store_history=True)
    ip.run_line_magic("ibert_fix", f"{number} --no-model")
    assert magics.last_result.verified
    assert ".group_by('o_status')" in magics.last_result.fixed_code


def test_unfixed_says_model_unavailable(shell, capsys):
    ip, magics = shell
    ip.run_cell("orders.select(orders.o_total.frobnicate_widely(3))", store_history=True)
    ip.run_line_magic("ibert_fix", "")
    result = magics.last_result
    assert not result.verified
    assert "model unavailable" in result.explanation()
    out = capsys.readouterr().out
    assert "no fix found" in out
    assert "candidates" not in out and "<ibert-candidate>" not in out
    assert "Next step" in result.explanation()


def test_bad_cell_number_is_a_clear_message(shell, capsys):
    ip, _ = shell
    ip.run_line_magic("ibert_fix", "99999")
    assert "no cell 99999" in capsys.readouterr().err


def test_lint_flags_pandas_idioms(shell, capsys):
    ip, magics = shell
    ip.run_cell("x = orders.o_status.str.upper()", store_history=True)
    number = ip.execution_count - 1
    ip.run_line_magic("ibert_lint", str(number))
    out = capsys.readouterr()
    if "semgrep unavailable" in out.err:
        pytest.skip(out.err)
    assert "ibis-pandas-str-accessor" in out.out
