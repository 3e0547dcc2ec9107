"""Discover Ibis tables and backends among a namespace's variables.

The snapshot is plain JSON so it can cross the kernel → server boundary: the server
rebuilds *unbound* tables from it (type-checking needs schemas only), while the kernel
keeps the live, bound tables for previews.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

import ibis
import ibis.expr.types as ir
from ibis.backends import BaseBackend

SNAPSHOT_VERSION = 1


@dataclass(frozen=True)
class TableInfo:
    variable: str
    name: str | None
    backend: str | None
    dialect: str | None
    bound: bool
    columns: list[dict[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class BackendInfo:
    variable: str
    backend: str
    dialect: str
    tables: list[str] = field(default_factory=list)


def _is_public(name: str) -> bool:
    return not name.startswith("_")


def find_tables(namespace: Mapping[str, Any]) -> dict[str, ir.Table]:
    """Return the Ibis tables bound to public variable names, in namespace order."""
    return {
        name: value
        for name, value in list(namespace.items())
        if _is_public(name) and isinstance(value, ir.Table)
    }


def find_backends(namespace: Mapping[str, Any]) -> dict[str, BaseBackend]:
    """Return the Ibis backend connections bound to public variable names."""
    return {
        name: value
        for name, value in list(namespace.items())
        if _is_public(name) and isinstance(value, BaseBackend)
    }


def table_backend(table: ir.Expr) -> BaseBackend | None:
    """The backend a table (or any expression) is bound to; None when unbound or a memtable."""
    try:
        return table._find_backend(use_default=False)
    except Exception:
        return None


def _table_name(table: ir.Table) -> str | None:
    try:
        return table.get_name()
    except Exception:
        return None


def describe_table(variable: str, table: ir.Table) -> TableInfo:
    backend = table_backend(table)
    return TableInfo(
        variable=variable,
        name=_table_name(table),
        backend=backend.name if backend is not None else None,
        dialect=backend.name if backend is not None else None,
        bound=backend is not None,
        columns=[{"name": n, "type": str(t)} for n, t in table.schema().items()],
    )


def describe_backend(variable: str, backend: BaseBackend, max_tables: int = 200) -> BackendInfo:
    try:
        tables = list(backend.list_tables())[:max_tables]
    except Exception:
        tables = []
    return BackendInfo(variable=variable, backend=backend.name, dialect=backend.name, tables=tables)


def schema_snapshot(namespace: Mapping[str, Any]) -> dict[str, Any]:
    """JSON-ready description of every table and backend visible in ``namespace``."""
    return {
        "version": SNAPSHOT_VERSION,
        "tables": [asdict(describe_table(v, t)) for v, t in find_tables(namespace).items()],
        "backends": [asdict(describe_backend(v, b)) for v, b in find_backends(namespace).items()],
    }


def tables_from_snapshot(snapshot: Mapping[str, Any]) -> dict[str, ir.Table]:
    """Rebuild unbound tables (same names, columns and types) from a snapshot.

    Raises ValueError naming the offending entry when the snapshot is malformed.
    """
    if not isinstance(snapshot, Mapping) or "tables" not in snapshot:
        raise ValueError("schema snapshot must be an object with a 'tables' list")
    tables: dict[str, ir.Table] = {}
    for i, entry in enumerate(snapshot["tables"]):
        try:
            variable = entry["variable"]
            schema = ibis.schema({c["name"]: c["type"] for c in entry["columns"]})
        except Exception as exc:  # noqa: BLE001 - report which entry is broken
            raise ValueError(f"schema snapshot table #{i} is malformed: {exc}") from exc
        tables[variable] = ibis.table(schema, name=entry.get("name") or variable)
    return tables
