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
``Series.str``, and pyarrow.compute's kernels of the same name (``compute_tables``). A peer
package that is not installed contributes nothing.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable

from ibert_jupyter.retrieval.corpus.chunks import Chunk
from ibert_jupyter.retrieval.corpus.docstrings import flat, prose

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
    except ImportError:  # pragma: no cover - a dependency of Ibis
        pass
    else:
        roles["table"].append(method_table(pd.DataFrame, numpydoc_description))
        roles["column"].append(method_table(pd.Series, numpydoc_description))
        roles["string"].append(method_table(StringMethods, numpydoc_description))
    compute = compute_tables()
    roles["column"].append(compute["column"])
    roles["string"].append(compute["string"])
    return roles


def compute_tables() -> dict[str, dict[str, list[str]]]:
    """pyarrow.compute's functions as peers: ``{"column": general functions, "string": utf8_* ones}``.

    ``is_in``, ``is_null``, ``mode``, ``first``: Arrow's kernels are named like Ibis's column
    methods and say in one line what they compute ("Compute the modal (most common) values").
    The string kernels carry a ``utf8_`` prefix (``utf8_lower`` is ``StringValue.lower``).
    """
    out: dict[str, dict[str, list[str]]] = {"column": {}, "string": {}}
    try:
        import pyarrow.compute as pc
    except ImportError:  # pragma: no cover - a dependency of Ibis
        return out
    for name in pc.list_functions():
        doc = getattr(pc.get_function(name), "_doc", None)  # FunctionDoc; private, so read defensively
        summary = flat(getattr(doc, "summary", "") or "")
        if not summary or name.startswith(("hash_", "ascii_")):
            continue  # grouped twins of the scalar aggregates; ASCII twins of the utf8 kernels
        role, bare = ("string", name[len("utf8_"):]) if name.startswith("utf8_") else ("column", name)
        out[role].setdefault(key(bare), []).append(summary)
    return out


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
