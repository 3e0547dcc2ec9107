"""How the other installed dataframe APIs describe the method an Ibis symbol mirrors.

Ibis's table and column API follows pandas and DuckDB's relational API name for name
(``select``, ``filter``, ``isin``, ``mode``, ``union``); their docstrings describe the same
operation in the words users arrive with: pandas says ``DataFrame.select`` "Select a subset
of columns" where Ibis says "Compute a new table expression". Both packages are installed
with Ibis's DuckDB backend, so their descriptions track the installed versions too.

A symbol is linked to a peer method of the same name (case and underscores ignored:
``argmax`` is DuckDB's ``arg_max``) on the peer class that plays its role: ``Table`` ->
``DuckDBPyRelation`` and ``pandas.DataFrame``; ``Expr`` -> ``DuckDBPyRelation``; column
values -> DuckDB's relation aggregates and ``Expression``, and ``pandas.Series``; strings ->
``Series.str``. A peer package that is not installed contributes nothing.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable

from ibert_jupyter.retrieval.corpus import Chunk
from ibert_jupyter.retrieval.docstrings import flat, prose

PER_SYMBOL = 4
_ALIAS = re.compile(r"\bis an alias (for|of)\b", re.IGNORECASE)


def key(name: str) -> str:
    """``arg_max`` and ``argmax`` meet: lowercase, underscores dropped."""
    return name.lower().replace("_", "")


def numpydoc_description(obj) -> list[str]:
    """Summary and first extended paragraph of a numpydoc docstring (pandas), aliases notes dropped."""
    doc = inspect.getdoc(obj) or ""
    head = prose(doc)
    paragraphs = [flat(p) for p in head.split("\n\n") if p.strip() and not p.lstrip().startswith((".. ", ">>>"))]
    return [p for p in paragraphs if not _ALIAS.search(p)][:2]


def pybind_description(obj) -> list[str]:
    """The text after the signature line of a pybind11 docstring (DuckDB)."""
    parts = (getattr(obj, "__doc__", None) or "").strip().split("\n\n")
    return [flat(p) for p in parts[1:2] if p.strip()]


def method_table(cls: type, describe: Callable[[object], list[str]]) -> dict[str, list[str]]:
    """``{key(name): descriptions}`` for a class's public methods and properties."""
    out: dict[str, list[str]] = {}
    for name in dir(cls):
        if name.startswith("_"):
            continue
        try:
            member = inspect.getattr_static(cls, name)
        except AttributeError:
            continue
        target = member.fget if isinstance(member, property) else getattr(cls, name, None)
        if target is None or not (callable(target) or isinstance(member, property)):
            continue
        for text in describe(target):
            if text not in out.setdefault(key(name), []):
                out[key(name)].append(text)
    return {k: v for k, v in out.items() if v}


def peer_tables() -> dict[str, list[dict[str, list[str]]]]:
    """Role -> the peer method tables that play it ("table", "expr", "column", "string").

    ``Expr`` gets DuckDB's relation alone: pandas' ``to_sql`` writes to a database, Ibis's
    renders SQL.
    """
    roles: dict[str, list[dict[str, list[str]]]] = {"table": [], "expr": [], "column": [], "string": []}
    try:
        import duckdb
    except ImportError:  # pragma: no cover - the DuckDB backend is a dependency
        duckdb = None
    if duckdb is not None:
        relation = method_table(duckdb.DuckDBPyRelation, pybind_description)
        roles["table"].append(relation)
        roles["expr"].append(relation)
        roles["column"] += [relation, method_table(duckdb.Expression, pybind_description)]
    try:
        import pandas as pd
        from pandas.core.strings.accessor import StringMethods
    except ImportError:
        return roles
    roles["table"].append(method_table(pd.DataFrame, numpydoc_description))
    roles["column"].append(method_table(pd.Series, numpydoc_description))
    roles["string"].append(method_table(StringMethods, numpydoc_description))
    return roles


# The Ibis modules whose classes play each role; arrays, maps, JSON, geometry and temporal values
# have their own semantics (``ArrayValue.filter`` filters elements, ``MapValue.keys`` is not
# ``Series.keys``), so they get no peers.
ROLES = {
    "ibis.expr.types.relations": "table",
    "ibis.expr.types.core": "expr",  # Expr: execute and the to_* exports, as a DuckDB relation has them
    "ibis.expr.types.generic": "column",
    "ibis.expr.types.numeric": "column",
    "ibis.expr.types.logical": "column",
    "ibis.expr.types.strings": "string",
}


def role(chunk: Chunk) -> str | None:
    """The peer role of a method's class: ``Table`` and ``Expr``, plain column values, strings; else None."""
    found = ROLES.get(chunk.module)
    owner = chunk.public_name.rpartition(".")[0]
    if (found == "table" and owner != "Table") or (found == "expr" and owner != "Expr"):
        return None  # other classes of these modules (joins, windows, scalars) mirror nothing
    return found


def peer_descriptions(chunks: list[Chunk], tables: dict[str, list[dict[str, list[str]]]] | None = None
                      ) -> dict[str, list[str]]:
    """``{chunk id: peer descriptions}`` for methods whose peers have a same-named, documented method."""
    tables = peer_tables() if tables is None else tables
    out: dict[str, list[str]] = {}
    for chunk in chunks:
        if chunk.kind not in ("method", "property"):
            continue
        found: list[str] = []
        for table in tables.get(role(chunk) or "", []):
            found += [d for d in table.get(key(chunk.name), []) if d not in found]
        if found:
            out[chunk.id] = found[:PER_SYMBOL]
    return out
