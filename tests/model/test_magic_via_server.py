"""%%ibert in a real InteractiveShell talking HTTP to a real Jupyter server (pytest-jupyter).

The kernel side sends its schema snapshot, the server generates and verifies against the
schema, streams progress back, and the magic re-verifies the chosen candidate on the live
DuckDB tables. The server's model is SCRIPTED (replays fixed texts) in the first test and
the FAKE tiny Devstral (random weights, see conftest) in the second.
"""

from __future__ import annotations

import asyncio

import pytest

from ibert_jupyter.model import runtime

pytest_plugins = ["pytest_jupyter.jupyter_server"]

GOOD = "```python\norders.group_by('o_orderstatus').agg(n=orders.count()).order_by('o_orderstatus')\n```"


@pytest.fixture
def server_env(jp_fetch, jp_http_port, jp_base_url, jp_auth_header, monkeypatch):
    """Point the magic at the test server, as IBERT_SERVER_URL/IBERT_SERVER_TOKEN do for users.

    ``jp_fetch`` is requested for its side effect: it makes pytest-jupyter serve HTTP on the test's loop.
    """
    monkeypatch.setenv("IBERT_SERVER_URL", f"http://localhost:{jp_http_port}{jp_base_url}")
    monkeypatch.setenv("IBERT_SERVER_TOKEN", jp_auth_header["Authorization"].split(" ", 1)[1])


async def run_cell(shell, cell: str) -> None:
    """The blocking magic runs in a thread so the in-process server's event loop keeps serving."""
    await asyncio.get_running_loop().run_in_executor(None, lambda: shell.run_cell(cell, store_history=False))


async def test_magic_generates_through_the_server_and_verifies_live(shell, server_env, scripted_model,
                                                                    jp_http_port, capsys):
    model = scripted_model([GOOD, "```python\norders.o_missing.sum()\n```"])
    with runtime.use_model(model):  # the server runs in this process: it serves the scripted model
        await run_cell(shell, "%%ibert --n 2 --rounds 1\nhow many orders per status?")
    outcome = shell.user_ns["_ibert"]
    assert outcome.via == f"server http://localhost:{jp_http_port}/a%40b/"
    assert outcome.verified and outcome.chosen.verified_against == ["orders (duckdb)"]  # re-checked on live data
    assert len(outcome.chosen.preview) == 3
    assert [c["report"]["ok"] for c in outcome.candidates] == [True, False]
    prompt = model.requests[0].messages[-1]["content"]
    assert "how many orders per status?" in prompt and "o_orderstatus" in prompt  # the kernel's snapshot arrived
    assert "nothing verified" not in capsys.readouterr().out


async def test_fake_tiny_devstral_over_the_server_says_nothing_verified(shell, server_env, capsys):
    await run_cell(shell, "%%ibert --n 2 --rounds 1\ncount orders")
    outcome = shell.user_ns["_ibert"]
    assert outcome.via.startswith("server http://localhost:")
    assert len(outcome.candidates) == 2 and not outcome.verified  # random weights: noise must not verify
    assert "nothing verified (2 candidates checked against orders)" in capsys.readouterr().out
