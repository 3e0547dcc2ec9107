"""Relationships between the notebook's tables, and joins proposed from them.

Keys are inferred from names (``customer_id`` in both tables; ``l_partkey`` / ``p_partkey``:
the same name after the table prefix) and confirmed on the values: the left key's distinct
values (a sample) must appear in the right key, which must be unique on the right (a lookup
table). A column that exists only in another table then leads to a proposed join — shown as
a guess to check, never as verified: nothing in the cell says which join was meant.
"""

from __future__ import annotations

import ast
import difflib
from dataclasses import dataclass
from typing import Iterator

import ibis.expr.types as ir

from ibert_jupyter.repair.candidate import Candidate
from ibert_jupyter.repair.diagnosis import Diagnosis
from ibert_jupyter.repair.fixcontext import FixContext, same_family
from ibert_jupyter.repair.namespace_check import add_missing_imports
from ibert_jupyter.repair.source import Source, parenthesize

SAMPLE = 200
MIN_CONTAINMENT = 0.9
CLOSE_NAME = 0.8


@dataclass(frozen=True)
class JoinKey:
    left: str
    right: str
    containment: float


def _suffix(name: str) -> str:
    return name.split("_", 1)[1] if "_" in name else name


def _name_pairs(left: dict[str, str], right: dict[str, str]) -> list[tuple[str, str]]:
    pairs = []
    for lname, ltype in left.items():
        for rname, rtype in right.items():
            if not same_family(ltype, rtype):
                continue
            if lname == rname or ("_" in lname and "_" in rname and _suffix(lname) == _suffix(rname)):
                pairs.append((lname, rname))
    return pairs


def _containment(left: ir.Table, right: ir.Table, lk: str, rk: str) -> float:
    try:
        values = [v for v in left.select(lk).distinct().limit(SAMPLE).to_pyarrow()[lk].to_pylist() if v is not None]
        if not values:
            return 0.0
        right_count = right.count().execute()
        if right[rk].nunique().execute() != right_count:
            return 0.0  # not a key on the right: the join would multiply rows
        found = right.filter(right[rk].isin(values)).select(rk).distinct().count().execute()
        return found / len(values)
    except Exception:  # noqa: BLE001 - unbound tables, backend errors: no evidence either way
        return 0.0


def infer_keys(left: ir.Table, right: ir.Table) -> list[JoinKey]:
    """Join keys from ``left`` to the lookup table ``right``, best first."""
    lschema = {n: str(t) for n, t in left.schema().items()}
    rschema = {n: str(t) for n, t in right.schema().items()}
    keys = []
    for lk, rk in _name_pairs(lschema, rschema):
        share = _containment(left, right, lk, rk)
        if share >= MIN_CONTAINMENT:
            keys.append(JoinKey(lk, rk, share))
    keys.sort(key=lambda k: (-k.containment, k.left != k.right))
    return keys


def _enclosing_call(src: Source, site: ast.AST, scope: list[ast.AST]) -> ast.Call | None:
    """The innermost method call whose arguments contain ``site``."""
    best = None
    for node in scope:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            inside = any(site is n for arg in [*node.args, *(k.value for k in node.keywords)] for n in ast.walk(arg))
            if inside and (best is None or src.span(node)[1] - src.span(node)[0] < src.span(best)[1] - src.span(best)[0]):
                best = node
    return best


def fix_column_from_other_table(src: Source, diag: Diagnosis, ctx: FixContext) -> Iterator[Candidate]:
    """``sales.filter(_.segment == "x")`` where only ``customers`` has ``segment``: join it in."""
    wrong = diag.name
    if not wrong or diag.kind not in {"unknown_column", "unknown_method"}:
        return
    holders = [name for name, table in ctx.tables.items() if wrong in table.schema()]
    if not holders:
        return
    scope = src.nodes_on(diag.line)
    sites = [n for n in scope if (isinstance(n, ast.Attribute) and n.attr == wrong)
             or (isinstance(n, ast.Constant) and n.value == wrong)]
    stmt = src.statement_at(diag.line)
    prefix = src.prefix_before(stmt) if stmt is not None else ""
    done = set()
    for site in sites:
        call = _enclosing_call(src, site, scope)
        if call is None:
            continue
        receiver = call.func.value
        left = ctx.probe(prefix, src.text(receiver))
        if not isinstance(left, ir.Table) or wrong in left.schema():
            continue
        if max((difflib.SequenceMatcher(None, wrong, c).ratio() for c in left.columns), default=0) >= CLOSE_NAME:
            continue  # a near-identical column here: a typo, not another table
        for holder in holders:
            if (id(receiver), holder) in done or holder == src.text(receiver):
                continue
            done.add((id(receiver), holder))
            keys = infer_keys(left, ctx.tables[holder])
            if not keys:
                continue
            key = keys[0]
            rtext = src.text(receiver)
            if key.left == key.right:
                predicate = repr(key.left)
            elif isinstance(receiver, ast.Name):
                predicate = f"{rtext}.{key.left} == {holder}.{key.right}"
            else:
                predicate = f"[({key.left!r}, {key.right!r})]"
            edits = [src.replace(receiver, f"{parenthesize(rtext)}.join({holder}, {predicate})")]
            for other in sites:
                if isinstance(other, ast.Attribute) and isinstance(other.value, ast.Name) and other.value.id not in ("_", holder):
                    edits.append(src.replace(other, f"{holder}.{wrong}"))
            code = add_missing_imports(src.apply(edits), ctx.provided)
            yield Candidate(
                code, "join-for-column",
                f"{wrong!r} is not a column of this relation but of {holder!r}; a join on "
                f"{key.left} = {holder}.{key.right} (inferred from the names and values: "
                f"{key.containment:.0%} of sampled keys match) brings it in. This is a guess.",
                preserves_meaning=False,
            )
