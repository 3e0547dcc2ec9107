"""`ibert demo --execute` builds the demo and runs its notebook headlessly through papermill."""

from __future__ import annotations

import subprocess
import sys

import nbformat
import pytest

from ibert_jupyter.demo.database import TPCH_TABLES, build_demo_database, is_complete


@pytest.mark.slow
def test_demo_execute_runs_every_cell(tmp_path):
    # builds the search index first when this machine has none (about 1-2 minutes, once)
    proc = subprocess.run(
        [sys.executable, "-m", "ibert_jupyter.cli", "demo", "--dir", str(tmp_path), "--execute"],
        capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "API search index for ibis" in proc.stderr
    executed = nbformat.read(tmp_path / "ibert_tour.executed.ipynb", as_version=4)
    errors = [
        out for cell in executed.cells if cell.cell_type == "code"
        and "raises-exception" not in cell.metadata.get("tags", [])
        for out in cell.get("outputs", []) if out.get("output_type") == "error"
    ]
    assert errors == []
    text = "\n".join(
        str(out.get("text", "")) + str(out.get("data", {}).get("text/plain", ""))
        for cell in executed.cells if cell.cell_type == "code" for out in cell.get("outputs", [])
    )
    assert "verified (duckdb) against lineitem (duckdb)" in text
    assert "import of 'os' is not allowed" in text
    assert "verified fix" in text  # %ibert_fix repaired the pandas-style cell
    assert "model unavailable" in text  # %%ibert without Devstral weights says so
    assert text.count("model unavailable") == 1  # said once, not once per output
    assert "no retrieval index" not in text and "1. " in text  # the demo built the index: search answers
    assert not any("papermill-error-cell-tag" in c.metadata.get("tags", []) for c in executed.cells)


def test_demo_execute_fails_when_a_cell_fails(tmp_path):
    from ibert_jupyter.cli import demo as command

    database = build_demo_database(tmp_path / "demo.duckdb")
    notebook = tmp_path / "broken.ipynb"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("raise RuntimeError('boom')")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(notebook))
    assert command.execute(notebook, timeout=120) == 1
    assert is_complete(database)


def test_demo_database_holds_tpch_and_is_reused(tmp_path):
    path = build_demo_database(tmp_path / "d.duckdb")
    assert is_complete(path)
    mtime = path.stat().st_mtime_ns
    build_demo_database(path)
    assert path.stat().st_mtime_ns == mtime
    assert len(TPCH_TABLES) == 8
