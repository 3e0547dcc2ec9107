"""Verify a candidate in the namespace where it will run, not the verifier's richer one.

The verifier gives every candidate ``ibis`` and ``_``; a notebook binds them only after
``import ibis`` / ``from ibis import _``. Given ``provided`` (``context.namespace.ibis_names``
of the user's namespace), a candidate that uses one of them without binding it fails here
at the build stage, with the import to add — the same message the verifier gives once its
``provided=`` argument lands (contract A), which this module then passes through.
"""

from __future__ import annotations

import ast
import functools
import inspect
from typing import AbstractSet, Any, Mapping

from ibert_jupyter.verify import Stage, VerificationReport, verify

# Names the verifier supplies that a notebook must import itself, and the import that binds each.
SUPPLIED_IMPORTS = {"_": "from ibis import _", "ibis": "import ibis"}


def bound_names(tree: ast.AST) -> set[str]:
    """Names the code binds itself: assignments, imports, function/lambda parameters."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
    return names


def missing_imports(code: str, provided: AbstractSet[str] | None) -> list[tuple[str, int]]:
    """(name, first line) for each supplied name the code uses but neither binds nor is provided."""
    if provided is None:
        return []
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    bound = bound_names(tree)
    first: dict[str, int] = {}
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)
            and node.id in SUPPLIED_IMPORTS and node.id not in bound and node.id not in provided
        ):
            first[node.id] = min(first.get(node.id, node.lineno), node.lineno)
    return sorted(first.items(), key=lambda item: item[1])


def add_missing_imports(code: str, provided: AbstractSet[str] | None) -> str:
    """``code`` with ``import ibis`` / ``from ibis import _`` prepended where it needs them."""
    needed = {name for name, _ in missing_imports(code, provided)}
    if not needed:
        return code
    lines = [SUPPLIED_IMPORTS[name] for name in ("ibis", "_") if name in needed]
    return "\n".join(lines) + "\n" + code


def missing_import_message(name: str) -> str:
    what = "`_`" if name == "_" else f"`{name}`"
    return f"{what} is not imported in this notebook: add `{SUPPLIED_IMPORTS[name]}`"


@functools.cache
def _verify_accepts_provided() -> bool:
    return "provided" in inspect.signature(verify).parameters


def verify_in_namespace(
    code: str,
    tables: Mapping[str, Any],
    *,
    provided: AbstractSet[str] | None = None,
    **kwargs: Any,
) -> VerificationReport:
    """``verify`` plus the namespace check; ``provided=None`` keeps the verifier's defaults."""
    missing = missing_imports(code, provided)
    if missing:
        name, line = missing[0]
        return VerificationReport(
            ok=False, stage=Stage.BUILD, code=code, error_type="NameError",
            message=missing_import_message(name), line=line,
            verified_against=[f"{variable}" for variable in tables],
        )
    if provided is not None and _verify_accepts_provided():
        return verify(code, tables, provided=provided, **kwargs)
    return verify(code, tables, **kwargs)
