"""IbisBench's databases by name, each an Ibis DuckDB backend built offline (cached per process)."""

from __future__ import annotations

import functools

DATABASES = ("tpch", "tpcds", "bikeshare")
TPC_SCALE = 0.01


@functools.cache
def connect(database: str):
    """The backend of ``database`` (TPC data from the DuckDB extension wheels, bike-share generated)."""
    if database in ("tpch", "tpcds"):
        from ibert_jupyter.data import tpc

        return tpc.connect(database, scale=TPC_SCALE)
    if database == "bikeshare":
        from ibert_jupyter.evaluation.ibisbench.bikeshare import connect as bikeshare

        return bikeshare()
    raise ValueError(f"unknown IbisBench database {database!r}; use one of {', '.join(DATABASES)}")


def tables_for(database: str, names) -> dict:
    """The tables a task names, as bound Ibis tables (variable name = table name)."""
    con = connect(database)
    missing = [n for n in names if n not in con.list_tables()]
    if missing:
        raise ValueError(f"database {database!r} has no table(s) {', '.join(missing)}")
    return {n: con.table(n) for n in names}
