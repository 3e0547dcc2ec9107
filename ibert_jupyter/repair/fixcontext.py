"""What fixers know about the kernel: live tables, trusted helpers, and a schema probe.

The probe evaluates a sub-expression of the failing cell in the verifier's sandbox, so a
fixer can ask "which columns does *this* relation have?" about derived relations too
(joins, aggregates), not only about the tables in the namespace.
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass, field
from typing import AbstractSet, Any, Mapping

import ibis.expr.types as ir

from ibert_jupyter.verify import verify

PROBE_NAME = "ibert_probe_result"


@dataclass
class FixContext:
    tables: Mapping[str, ir.Table]
    helpers: Mapping[str, Any] = field(default_factory=dict)
    provided: AbstractSet[str] | None = None  # Ibis names the user's namespace binds (None: all)
    _cache: dict = field(default_factory=dict, repr=False)

    def known_names(self) -> set[str]:
        return set(self.tables) | set(self.helpers)

    def binds(self, name: str) -> bool:
        """Whether the user's namespace binds ``name`` (``ibis``, ``_``) for a fix to use."""
        return self.provided is None or name in self.provided

    def all_columns(self) -> dict[str, str]:
        """column name -> type over every table in scope (first table wins on clashes)."""
        columns: dict[str, str] = {}
        for table in self.tables.values():
            for name, dtype in table.schema().items():
                columns.setdefault(name, str(dtype))
        return columns

    def probe(self, prefix: str, expression: str) -> ir.Expr | None:
        """Evaluate ``expression`` after running ``prefix``; None when it does not build."""
        key = (prefix, expression)
        if key not in self._cache:
            try:
                ast.parse(expression, mode="eval")
            except SyntaxError:
                self._cache[key] = None
                return None
            code = f"{prefix}\n{PROBE_NAME} = ({expression})" if prefix else f"{PROBE_NAME} = ({expression})"
            report = verify(code, self.tables, helpers=self.helpers, preview=False)
            self._cache[key] = report.expression if report.ok else None
        return self._cache[key]

    def probe_schema(self, prefix: str, expression: str) -> dict[str, str] | None:
        expr = self.probe(prefix, expression)
        if isinstance(expr, ir.Table):
            return {name: str(dtype) for name, dtype in expr.schema().items()}
        return None

    def probe_type(self, prefix: str, expression: str) -> str | None:
        expr = self.probe(prefix, expression)
        if isinstance(expr, ir.Value):
            return str(expr.type())
        return None


@functools.cache
def _ibis_type(name: str):
    import ibis

    return ibis.dtype(name)


def same_family(a: str | None, b: str | None) -> bool:
    """Whether two Ibis type strings can be compared without a cast."""
    if a is None or b is None:
        return False
    ta, tb = _ibis_type(a), _ibis_type(b)
    if ta.is_numeric() and tb.is_numeric():
        return True
    if ta.is_string() and tb.is_string():
        return True
    if ta.is_temporal() and tb.is_temporal():
        return True
    return ta.copy(nullable=True) == tb.copy(nullable=True)
