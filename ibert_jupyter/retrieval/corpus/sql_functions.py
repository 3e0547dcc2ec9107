"""The SQL function each Ibis symbol compiles to on DuckDB, with DuckDB's own description of it.

Ibis docstrings are terse where users are wordy: ``Column.mode`` says "Return the mode of a
column", while a user asks for "the most frequent value". The DuckDB backend (the default, and
the demo's) compiles ``ops.Mode`` to ``mode``, which DuckDB describes as "Returns the most
frequent value for the values within x". That second description is written by other
people in other words, and it ships with the installed packages, so it tracks the installed
versions like the rest of the index.

The link is read from code where the code names it: a symbol's body constructs
``ops.X(...)``; the SQL compilers' ``SIMPLE_OPS`` tables (the base compiler's, overridden by
DuckDB's) and visitors that only rename (``return self.f.trim(arg)``) name the function for
``X``; ``duckdb_functions()`` holds its description. Value ops named nowhere there fall back
to the DuckDB function of their own lowercased name (``ops.Kurtosis`` -> ``kurtosis``, whose
visitor builds that call); relation ops never do (``ops.Filter`` is a WHERE, not DuckDB's
list ``filter``). Ops compiled into several calls (``Clip`` becomes ``GREATEST``/``LEAST``)
get no description. Source is parsed with ``ast``; nothing from Ibis is imported.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from ibert_jupyter.retrieval.corpus.chunks import SYMBOL_KINDS, Chunk
from ibert_jupyter.retrieval.corpus.docstrings import flat

COMPILERS = ("backends/sql/compilers/base.py", "backends/sql/compilers/duckdb.py")  # later entries win
VALUE_OPS = "expr/operations"  # a package: every module's classes
RELATION_OPS = "expr/operations/relations.py"
_OP_CALL = re.compile(r"\bops\.([A-Z]\w*)\(")


def _renamed_function(visitor: ast.FunctionDef) -> str | None:
    """``f`` when a ``visit_X`` method is one ``return self.f.f(...)`` (docstring aside), else None."""
    body = [s for s in visitor.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
    if len(body) != 1 or not isinstance(body[0], ast.Return) or not isinstance(body[0].value, ast.Call):
        return None
    func = body[0].value.func
    if (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Attribute) and func.value.attr == "f"
            and isinstance(func.value.value, ast.Name) and func.value.value.id == "self"):
        return func.attr
    return None


def simple_ops(source: str) -> dict[str, str]:
    """``{op class name: SQL function}`` from a compiler module.

    Read from every ``SIMPLE_OPS = {ops.X: "f", ...}`` class attribute, and from ``visit_X``
    methods that only rename (``return self.f.f(...)``).
    """
    out: dict[str, str] = {}
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.ClassDef):
            continue
        for stmt in node.body:
            if isinstance(stmt, ast.FunctionDef) and stmt.name.startswith("visit_"):
                renamed = _renamed_function(stmt)
                if renamed:
                    out[stmt.name.removeprefix("visit_")] = renamed
            if (isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Dict)
                    and any(isinstance(t, ast.Name) and t.id == "SIMPLE_OPS" for t in stmt.targets)):
                for key, value in zip(stmt.value.keys, stmt.value.values):
                    if (isinstance(key, ast.Attribute) and isinstance(value, ast.Constant)
                            and isinstance(value.value, str)):
                        out[key.attr] = value.value
    return out


def _classes(path: Path) -> set[str]:
    """Class names defined in a module, or in every module of a package directory."""
    files = sorted(path.glob("*.py")) if path.is_dir() else [path] if path.exists() else []
    return {n.name for f in files for n in ast.walk(ast.parse(f.read_text(encoding="utf-8")))
            if isinstance(n, ast.ClassDef)}


def op_functions(ibis_dir: Path, functions: set[str] = frozenset()) -> dict[str, str]:
    """Op class name -> the DuckDB SQL function it compiles to (missing compilers are skipped).

    Value ops the compilers name nowhere fall back to the one of ``functions`` that is their
    lowercased name (``ops.Kurtosis`` -> ``kurtosis``): a guess from names, right for the
    aggregates and math functions it catches; relation ops (``ops.Filter`` is a WHERE, not
    DuckDB's list ``filter``) never take it.
    """
    relations = _classes(ibis_dir / RELATION_OPS)
    out = {name: name.lower() for name in _classes(ibis_dir / VALUE_OPS) - relations if name.lower() in functions}
    for rel in COMPILERS:
        path = ibis_dir / rel
        if path.exists():
            out.update(simple_ops(path.read_text(encoding="utf-8")))
    return out


def function_descriptions() -> dict[str, list[str]]:
    """DuckDB's distinct descriptions of each built-in function, one per overload family.

    ``length`` of a string, a list and a bit string are described apart; all are kept, and the
    view that matches a question best is the one that counts.
    """
    import duckdb

    con = duckdb.connect()
    try:
        rows = con.execute("SELECT function_name, description FROM duckdb_functions() "
                           "WHERE description IS NOT NULL AND description <> ''").fetchall()
    finally:
        con.close()
    out: dict[str, list[str]] = {}
    for name, description in sorted(rows):
        text = flat(description)
        if text not in out.setdefault(name, []):
            out[name].append(text)
    return out


def symbol_functions(chunks: list[Chunk], ibis_dir: Path, descriptions: dict[str, list[str]] | None = None
                     ) -> dict[str, tuple[str, list[str]]]:
    """``{chunk id: (SQL function, its descriptions)}`` for symbols whose body builds a described op.

    The first op in the body that maps to a described function wins: ``Value.isnull`` builds
    ``ops.IsNull`` only, while a method that validates input with one op and returns another
    is rare enough that its first mapped op is the one it returns.
    """
    descriptions = function_descriptions() if descriptions is None else descriptions
    mapping = op_functions(ibis_dir, set(descriptions))
    root = ibis_dir.parent
    sources: dict[str, list[str]] = {}
    out: dict[str, tuple[str, list[str]]] = {}
    for chunk in chunks:
        if chunk.kind not in SYMBOL_KINDS or chunk.kind == "class":
            continue
        if chunk.file not in sources:
            try:
                sources[chunk.file] = (root / chunk.file).read_text(encoding="utf-8").splitlines()
            except OSError:
                sources[chunk.file] = []
        body = "\n".join(sources[chunk.file][chunk.line - 1:chunk.end_line])
        for op in _OP_CALL.findall(body):
            function = mapping.get(op)
            if function and function in descriptions:
                out[chunk.id] = (function, descriptions[function])
                break
    return out
