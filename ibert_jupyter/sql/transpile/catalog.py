"""Table schemas the converter resolves names against, from a dict or a live backend."""

from __future__ import annotations

import functools
from typing import Any, Mapping

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.schema as sch
from ibis.backends.sql.datatypes import DuckDBType
from sqlglot import exp
from sqlglot.schema import MappingSchema

from ibert_jupyter.errors import IbertInputError


class CatalogError(IbertInputError):
    """The catalog given to the converter is not usable."""


def _as_schema(name: str, value: Any) -> sch.Schema:
    if isinstance(value, sch.Schema):
        return value
    if isinstance(value, ibis.expr.types.Table):
        return value.schema()
    if isinstance(value, Mapping):
        return ibis.schema(dict(value))
    raise CatalogError(f"catalog entry {name!r} is {type(value).__name__}, expected an Ibis schema")


def ibis_schemas(catalog: Any) -> dict[str, sch.Schema]:
    """Normalise a catalog (name -> schema/table/dict, or an Ibis backend) to Ibis schemas."""
    if catalog is None:
        raise CatalogError("a catalog of table schemas is required to resolve column names")
    if hasattr(catalog, "list_tables") and hasattr(catalog, "get_schema"):
        return {name: catalog.get_schema(name) for name in catalog.list_tables()}
    if not isinstance(catalog, Mapping):
        raise CatalogError(
            f"catalog must be a dict of table schemas or an Ibis backend, got {type(catalog).__name__}"
        )
    return {str(name): _as_schema(str(name), value) for name, value in catalog.items()}


def sqlglot_schema(schemas: Mapping[str, sch.Schema]) -> dict[str, dict[str, str]]:
    """The same schemas in sqlglot's mapping form, for qualification and type annotation."""
    return {
        table: {col: DuckDBType.from_ibis(dtype).sql("duckdb") for col, dtype in schema.items()}
        for table, schema in schemas.items()
    }


@functools.lru_cache(maxsize=16)
def _mapping_schema(key: tuple[tuple[str, sch.Schema], ...], dialect: str) -> MappingSchema:
    return MappingSchema(sqlglot_schema(dict(key)), dialect=dialect)


def prepared_schema(schemas: Mapping[str, sch.Schema], dialect: str) -> MappingSchema:
    """sqlglot's schema object for ``schemas``, built once per distinct catalog."""
    return _mapping_schema(tuple(sorted(schemas.items())), dialect)


def ibis_type(datatype: exp.DataType) -> dt.DataType:
    """An sqlglot type as an Ibis type."""
    return DuckDBType.to_ibis(datatype)
