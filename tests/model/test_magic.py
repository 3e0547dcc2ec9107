"""%%ibert in a real IPython.InteractiveShell, against real DuckDB TPC-H tables.

The verified path uses a SCRIPTED chat model (named as such: it replays fixed texts);
the model path uses the FAKE tiny Devstral (random weights, see conftest) end to end."""

from __future__ import annotations

from ibert_jupyter.model import runtime


def test_verified_candidate_is_shown_with_preview_and_accept_inserts_it(shell, scripted_model):
    model = scripted_model([
        "```python\norders.group_by('o_orderstatus').agg(n=orders.count()).order_by('o_orderstatus')\n```",
        "```python\norders.o_missing.sum()\n```",
    ])
    with runtime.use_model(model):
        shell.run_cell("%%ibert --n 2 --rounds 1\nhow many orders per status?", store_history=False)
    outcome = shell.user_ns["_ibert"]
    assert outcome.verified and outcome.via == "in-process scripted"
    assert outcome.chosen.verified_against == ["orders (duckdb)"]
    assert len(outcome.chosen.preview) == 3  # three order statuses in TPC-H
    assert "how many orders per status?" in model.requests[0].messages[-1]["content"]
    shell.rl_next_input = None
    import ipywidgets  # the Accept button inserts the chosen code into the next cell

    buttons = [wd for wd in ipywidgets.Widget.widgets.values()
               if isinstance(wd, ipywidgets.Button) and wd.description == "Accept"]
    buttons[-1].click()
    assert shell.rl_next_input == outcome.candidates[0]["code"]


def test_nothing_verified_is_said_clearly(shell, capsys, scripted_model):
    with runtime.use_model(scripted_model(["```python\norders.nope\n```"])):
        shell.run_cell("%%ibert --n 1 --rounds 2\nsum of nope", store_history=False)
    outcome = shell.user_ns["_ibert"]
    assert not outcome.verified and len(outcome.candidates) == 2
    assert "nothing verified" in capsys.readouterr().out


def test_model_unavailable_message(shell, fresh_runtime, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("IBERT_MODEL", str(tmp_path / "no-weights-here"))
    runtime.configure(None)
    shell.run_cell("%%ibert\ncount orders", store_history=False)
    out = capsys.readouterr().out
    assert "model unavailable" in out and "IBERT_MODEL" in out
    assert "_ibert" not in shell.user_ns


def test_fake_tiny_devstral_runs_end_to_end_in_process(shell, fresh_runtime, tiny_devstral, monkeypatch, capsys):
    monkeypatch.setenv("IBERT_MODEL", str(tiny_devstral["weights"]))
    monkeypatch.setenv("IBERT_DEVICE", "cpu")
    monkeypatch.setenv("IBERT_MAX_NEW_TOKENS", "8")
    runtime.configure(None)
    shell.run_cell("%%ibert --n 2 --rounds 1\ncount orders", store_history=False)
    outcome = shell.user_ns["_ibert"]
    assert len(outcome.candidates) == 2  # random weights: noise, which must not verify
    assert not outcome.verified and "nothing verified" in capsys.readouterr().out
