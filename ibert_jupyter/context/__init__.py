"""Find Ibis tables and backends in a namespace and describe them as JSON."""

from ibert_jupyter.context.tables import (
    BackendInfo,
    TableInfo,
    find_backends,
    find_tables,
    schema_snapshot,
    tables_from_snapshot,
)

__all__ = [
    "BackendInfo",
    "TableInfo",
    "find_backends",
    "find_tables",
    "schema_snapshot",
    "tables_from_snapshot",
]
