"""Which SQL dialects an expression compiles to, and which operation blocks the others."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import ibis
import ibis.backends.sql.compilers as compilers
import ibis.expr.operations as ops
import ibis.expr.types as ir

from ibert_jupyter.sql.render import DIALECTS, check_dialect


@dataclass(frozen=True)
class DialectResult:
    dialect: str
    ok: bool
    sql: str | None = None
    blockers: tuple[str, ...] = field(default_factory=tuple)
    error: str | None = None


def _compiler_classes() -> dict[str, type]:
    table = {}
    for name in compilers.__all__:
        cls = getattr(compilers, name)
        table[name.removesuffix("Compiler").lower()] = cls
    return table


_COMPILERS = _compiler_classes()


def _operation_types(expr: ir.Expr) -> set[type]:
    return {type(node) for node in expr.op().find(ops.Node)}


def _static_blockers(compiler: type | None, op_types: Iterable[type]) -> list[str]:
    """Operations the dialect's compiler has no rule for (or marks unsupported)."""
    if compiler is None:
        return []
    unsupported = set(getattr(compiler, "UNSUPPORTED_OPS", ()))
    names = []
    for op_type in op_types:
        if not issubclass(op_type, ops.Value):
            continue
        rule = getattr(compiler, f"visit_{op_type.__name__}", None)
        if op_type in unsupported or rule is None:
            names.append(op_type.__name__)
    return sorted(names)


def _blocker_from_error(exc: Exception) -> str | None:
    text = str(exc)
    if "'" in text and "operation" in text:
        return text.split("'")[1]
    return None


def portability_report(expr: ir.Expr, dialects: Iterable[str] | None = None) -> list[DialectResult]:
    """Compile ``expr`` for each dialect; failures name the blocking operation(s)."""
    chosen = [check_dialect(d) for d in (dialects or DIALECTS)]
    op_types = _operation_types(expr)
    results = []
    for dialect in chosen:
        try:
            sql = str(ibis.to_sql(expr, dialect=dialect))
        except Exception as exc:  # noqa: BLE001 - each dialect's failure is data
            blockers = _static_blockers(_COMPILERS.get(dialect), op_types)
            from_error = _blocker_from_error(exc)
            if from_error and from_error not in blockers:
                blockers = [from_error, *blockers]
            results.append(
                DialectResult(dialect, False, blockers=tuple(blockers), error=f"{type(exc).__name__}: {exc}")
            )
        else:
            results.append(DialectResult(dialect, True, sql=sql))
    return results


def summarize(results: list[DialectResult]) -> str:
    ok = [r.dialect for r in results if r.ok]
    lines = [f"compiles on {len(ok)}/{len(results)} dialects: {', '.join(ok) or 'none'}"]
    for r in results:
        if not r.ok:
            why = ", ".join(r.blockers) if r.blockers else (r.error or "unknown error")
            lines.append(f"  {r.dialect}: blocked by {why}")
    return "\n".join(lines)
