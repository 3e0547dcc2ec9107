"""The one error the transpiler raises for SQL it cannot express faithfully in Ibis."""

from __future__ import annotations

from sqlglot import exp

from ibert_jupyter.errors import Unsupported


def position_of(node: exp.Expression | None) -> tuple[int | None, int | None]:
    """Line and column of the first source token under ``node`` (sqlglot keeps them in meta)."""
    if node is None:
        return None, None
    for sub in node.walk():
        meta = getattr(sub, "_meta", None) or {}
        if "line" in meta:
            return meta.get("line"), meta.get("col")
    return None, None


class UnsupportedSQL(Unsupported):
    """SQL the converter cannot translate without changing its meaning.

    ``construct`` names the SQL feature, ``line``/``column`` point into the source SQL when
    known, so the user can see exactly what to rewrite.
    """

    def __init__(self, construct: str, node: exp.Expression | None = None, detail: str = ""):
        self.construct = construct
        self.line, self.column = position_of(node)
        self.snippet = node.sql()[:80] if isinstance(node, exp.Expression) else None
        where = f" at line {self.line}, column {self.column}" if self.line else ""
        text = f"unsupported SQL: {construct}{where}"
        if self.snippet:
            text += f" ({self.snippet})"
        if detail:
            text += f": {detail}"
        super().__init__(text)
