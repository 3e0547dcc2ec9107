"""The Ibis API a program calls, by name (read from its source; nothing runs)."""

from __future__ import annotations

import ast

def api_symbols(code: str) -> tuple[str, ...]:
    """Distinct Ibis API names ``code`` calls: methods by name (``group_by``), functions as ``ibis.f``.

    Ordered by position in the source.
    """
    found: list[tuple[int, int, str]] = []
    for node in ast.walk(ast.parse(code)):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        func, owner = node.func, node.func.value
        if isinstance(owner, ast.Name) and owner.id == "ibis":
            name = f"ibis.{func.attr}"
        elif isinstance(owner, ast.Attribute) and isinstance(owner.value, ast.Name) and owner.value.id == "ibis":
            name = f"ibis.{owner.attr}.{func.attr}"
        else:
            name = func.attr
        found.append((func.end_lineno or 0, func.end_col_offset or 0, name))
    seen: dict[str, None] = {}
    for _, _, name in sorted(found):
        seen.setdefault(name)
    return tuple(seen)


def bare(symbol: str) -> str:
    """The last component of a dotted name: ``Table.group_by`` → ``group_by``."""
    return symbol.rsplit(".", 1)[-1]
