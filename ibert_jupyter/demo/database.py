"""Build the demo DuckDB database (TPC-H, generated offline by the tpch extension wheel)."""

from __future__ import annotations

from pathlib import Path

import duckdb

from ibert_jupyter.data import tpc

TPCH_TABLES = ("customer", "lineitem", "nation", "orders", "part", "partsupp", "region", "supplier")


def is_complete(path: Path) -> bool:
    if not path.exists():
        return False
    try:
        with duckdb.connect(str(path), read_only=True) as con:
            present = {row[0] for row in con.execute("SHOW TABLES").fetchall()}
    except duckdb.Error:
        return False
    return set(TPCH_TABLES) <= present


def build_demo_database(path: str | Path, scale: float = 0.01, *, force: bool = False) -> Path:
    """Create (or reuse) a DuckDB file holding TPC-H at ``scale``; returns its path."""
    path = Path(path)
    if is_complete(path) and not force:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    for leftover in (path, path.with_suffix(path.suffix + ".wal")):
        leftover.unlink(missing_ok=True)
    with duckdb.connect(str(path)) as con:
        tpc.generate(con, "h", scale)
        con.execute("CHECKPOINT")
    return path
