"""A small dataset built once per session by the real command (``ibert data build --size tiny``)."""

from __future__ import annotations

import json

import pytest


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """(folder, last JSON line) of a real tiny build: real DuckDB, verifier, semgrep and tokenizer."""
    from ibert_jupyter.cli import main

    out = tmp_path_factory.mktemp("ibert-data")
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        rc = main(["data", "build", "--out", str(out), "--size", "tiny", "--seed", "3", "--json", "--no-progress"])
    assert rc == 0
    summary = json.loads(buffer.getvalue().strip().splitlines()[-1])
    return out, summary
