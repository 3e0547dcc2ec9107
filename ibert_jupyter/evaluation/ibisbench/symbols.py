"""The Ibis API a program uses, by name: what retrieval should have put in the prompt.

Read from the source alone: every called method (``t.group_by(...)``, ``_.x.sum()``) and every
``ibis.f(...)`` function. Names, not qualified symbols: ``Table.filter`` and ``Column.filter``
answer "filter" alike for a model that reads the docs.
"""

from __future__ import annotations

import ast

# Python's own calls a program may make that are not Ibis API
NOT_IBIS = {"len", "range", "list", "dict", "tuple", "str", "int", "float", "round", "min", "max", "sorted"}


def api_symbols(code: str) -> tuple[str, ...]:
    """Distinct Ibis API names ``code`` calls, in first-use order (``ibis.`` kept on functions)."""
    seen: dict[str, None] = {}
    for node in ast.walk(ast.parse(code)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute):
            owner = func.value
            if isinstance(owner, ast.Name) and owner.id == "ibis":
                seen.setdefault(f"ibis.{func.attr}")
            elif isinstance(owner, ast.Attribute) and isinstance(owner.value, ast.Name) and owner.value.id == "ibis":
                seen.setdefault(f"ibis.{owner.attr}.{func.attr}")
            else:
                seen.setdefault(func.attr)
        elif isinstance(func, ast.Name) and func.id not in NOT_IBIS:
            continue  # a helper the program defined itself
    return tuple(sorted(seen, key=list(seen).index))


def bare(symbol: str) -> str:
    """The last component of a dotted name: ``Table.group_by`` → ``group_by``."""
    return symbol.rsplit(".", 1)[-1]


def covered(gold: tuple[str, ...], retrieved_names) -> tuple[str, ...]:
    """The gold symbols a retrieved symbol answers (same bare name)."""
    names = {bare(n) for n in retrieved_names}
    return tuple(s for s in gold if bare(s) in names)
