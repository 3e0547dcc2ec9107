"""Fixes for stale relation references, type mixes, signatures, syntax and backend errors."""

from __future__ import annotations

import ast
import io
import re
import tokenize
from typing import Iterator

import ibis.expr.types as ir

from ibert_jupyter.repair.candidate import Candidate
from ibert_jupyter.repair.diagnosis import Diagnosis
from ibert_jupyter.repair.fixcontext import FixContext
from ibert_jupyter.repair.fixes_names import rank_columns
from ibert_jupyter.repair.source import Source, assigned_names

_NUMERIC = ("int", "uint", "float", "decimal")


def _table_names(src: Source, ctx: FixContext) -> set[str]:
    return set(ctx.tables) | assigned_names(src.tree)


def fix_relation_integrity(src: Source, diag: Diagnosis, ctx: FixContext) -> Iterator[Candidate]:
    """Rebind ``t.col`` inside a method call on a *derived* relation to that relation.

    ``q = t.filter(...); q.agg(n=t.count())`` fails because ``t`` is not ``q``; inside
    ``q.agg(...)`` the deferred ``_`` (or ``q`` itself) means the relation being queried.
    Only names bound to tables are rebound, one name at a time first (smallest change).
    """
    stmt = src.statement_at(diag.line)
    prefix = src.prefix_before(stmt) if stmt is not None else ""
    sites = []  # (name node, receiver node)
    for call in src.nodes_on(diag.line):
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)):
            continue
        receiver = call.func.value
        receiver_root = _root_name(receiver)
        for arg in [*call.args, *(k.value for k in call.keywords)]:
            for node in ast.walk(arg):
                if (
                    isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id != receiver_root and node.value.id != "_"
                ):
                    sites.append((node.value, receiver))
    table_names = [
        name for name in dict.fromkeys(site.id for site, _ in sites)
        if name in ctx.tables or isinstance(ctx.probe(prefix, name), ir.Table)
    ]
    groups = [[name] for name in table_names]
    if len(table_names) > 1:
        groups.append(table_names)
    for style in ("deferred", "receiver"):
        for group in groups:
            edits = []
            for site, receiver in sites:
                if site.id not in group:
                    continue
                if style == "deferred":
                    edits.append(src.replace(site, "_"))
                elif isinstance(receiver, ast.Name):
                    edits.append(src.replace(site, receiver.id))
            if edits:
                yield Candidate(
                    src.apply(edits),
                    f"rebind-{style}",
                    preserves_meaning=False,
                    explanation=f"{' and '.join(repr(g) for g in group)} is not the relation being queried "
                    "(Ibis: 'belong to another relation'); the reference now points at the derived "
                    f"relation {'through the deferred _' if style == 'deferred' else 'by name'}.",
                )


def _root_name(node: ast.AST) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Call, ast.Subscript)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _is_numeric(dtype: str | None) -> bool:
    return bool(dtype) and dtype.lstrip("!").startswith(_NUMERIC)


def _is_string(dtype: str | None) -> bool:
    return bool(dtype) and dtype.lstrip("!").startswith("string")


def _number(text: str):
    for kind in (int, float):
        try:
            return kind(text.strip())
        except ValueError:
            continue
    return None


def _operand_pairs(src: Source, line: int | None):
    for node in src.nodes_on(line):
        if isinstance(node, ast.Compare) and len(node.comparators) == 1:
            yield node.left, node.comparators[0]
        elif isinstance(node, ast.BinOp):
            yield node.left, node.right


def fix_type_mismatch(src: Source, diag: Diagnosis, ctx: FixContext) -> Iterator[Candidate]:
    """Make both sides of a comparison/arithmetic the same type.

    A literal on one side is converted to the other side's type ("24" → 24 for a numeric
    column, 5 → "5" for a string column); two columns of different types get the nearest
    column of the matching type (join keys), then an explicit cast.
    """
    stmt = src.statement_at(diag.line)
    prefix = src.prefix_before(stmt) if stmt is not None else ""
    literal_edits, column_fixes, cast_edits = [], [], []
    for left, right in _operand_pairs(src, diag.line):
        for this, other in ((left, right), (right, left)):
            if not isinstance(this, ast.Constant) or isinstance(other, ast.Constant):
                continue
            other_type = ctx.probe_type(prefix, src.text(other))
            if isinstance(this.value, str) and _is_numeric(other_type) and _number(this.value) is not None:
                literal_edits.append(src.replace(this, repr(_number(this.value))))
            elif isinstance(this.value, (int, float)) and _is_string(other_type):
                literal_edits.append(src.replace(this, repr(str(this.value))))
        if isinstance(left, ast.Constant) or isinstance(right, ast.Constant):
            continue
        lt, rt = ctx.probe_type(prefix, src.text(left)), ctx.probe_type(prefix, src.text(right))
        if lt is None or rt is None or lt.lstrip("!") == rt.lstrip("!"):
            continue
        for wrong, good, good_type in ((right, left, lt), (left, right, rt)):
            if isinstance(wrong, ast.Attribute):
                schema = ctx.probe_schema(prefix, src.text(wrong.value))
                partner = good.attr if isinstance(good, ast.Attribute) else None
                if schema:
                    for name in rank_columns(wrong.attr, schema, good_type, partner)[:2]:
                        if name != wrong.attr:
                            column_fixes.append((src.replace(wrong, f"{src.text(wrong.value)}.{name}"), name, wrong.attr))
        cast_edits.append(src.replace(right, f"{src.text(right)}.cast({lt.lstrip('!')!r})"))
    literal_edits += _literals_named_in_message(src, diag)
    if literal_edits:
        yield Candidate(src.apply(literal_edits), "literal-type",
                        "A literal of the wrong type was compared with or added to a column; it now has the column's type.")
    for edit, name, wrong in column_fixes:
        yield Candidate(src.apply([edit]), "matching-type-column",
                        f"{wrong!r} has a different type from the value it is compared with; {name!r} has the matching type and a similar name.",
                        preserves_meaning=False)
    if cast_edits:
        yield Candidate(src.apply(cast_edits[:1]), "cast",
                        "The two sides have different types; the right side is cast to the left side's type.")


_NOT_COMPARABLE = re.compile(r"Arguments \S+:(.+?) and Literal\((.*)\):(\w+) are not comparable")


def _literals_named_in_message(src: Source, diag: Diagnosis) -> list:
    """Use Ibis's "X:decimal and Literal(24):string are not comparable" when probing cannot
    type an operand (deferred ``_``): convert that literal where it is written, in the
    failing statement or in the constant assignment it came through."""
    match = _NOT_COMPARABLE.search(diag.message)
    if not match:
        return []
    column_type, value, literal_type = match.groups()
    if not (literal_type == "string" and _is_numeric(column_type) and _number(value) is not None):
        return []
    statement_nodes = set(map(id, src.nodes_on(diag.line)))
    used_names = {n.id for n in src.nodes_on(diag.line) if isinstance(n, ast.Name)}
    edits = []
    for node in src.walk():
        if not (isinstance(node, ast.Constant) and node.value == value):
            continue
        if id(node) in statement_nodes:
            edits.append(src.replace(node, repr(_number(value))))
    for stmt in src.tree.body:
        if (
            isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)
            and stmt.targets[0].id in used_names and isinstance(stmt.value, ast.Constant) and stmt.value.value == value
        ):
            edits.append(src.replace(stmt.value, repr(_number(value))))
    return edits


# pandas keywords that carry meaning: dropping one silently changes the result (ascending=False).
_MEANINGFUL_PANDAS_KEYWORDS = frozenset({"ascending", "by", "on", "left_on", "right_on", "columns", "how"})


def fix_signature(src: Source, diag: Diagnosis, ctx: FixContext) -> Iterator[Candidate]:
    """Drop a keyword argument the Ibis method does not accept."""
    if not diag.name or diag.name in _MEANINGFUL_PANDAS_KEYWORDS:
        return
    edits = []
    for node in src.nodes_on(diag.line):
        if isinstance(node, ast.Call):
            kept = [k for k in node.keywords if k.arg != diag.name]
            if len(kept) != len(node.keywords) and isinstance(node.func, ast.Attribute):
                args = [src.text(a) for a in node.args] + [src.text(k) for k in kept]
                edits.append(src.replace(node, f"{src.text(node.func)}({', '.join(args)})"))
    if edits:
        yield Candidate(src.apply(edits), "drop-keyword",
                        f"The method does not accept {diag.name!r}; the argument was removed, which may change what it computes.",
                        preserves_meaning=False)


_CLOSERS = {"(": ")", "[": "]", "{": "}"}


def fix_syntax(code: str, diag: Diagnosis) -> Iterator[Candidate]:
    """Close a bracket left open: at the end of the cell, or after a later closing bracket.

    Each position is a candidate; the verifier decides which one builds.
    """
    stack: list[tuple[str, int]] = []
    closers_after: list[int] = []
    lines = code.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    try:
        for tok in tokenize.generate_tokens(io.StringIO(code).readline):
            offset = starts[tok.end[0] - 1] + tok.end[1] if tok.end[0] - 1 < len(starts) else len(code)
            if tok.type == tokenize.OP and tok.string in _CLOSERS:
                stack.append((tok.string, offset))
            elif tok.type == tokenize.OP and tok.string in _CLOSERS.values():
                if stack and _CLOSERS[stack[-1][0]] == tok.string:
                    stack.pop()
                closers_after.append(offset)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    if not stack:
        return
    closing = "".join(_CLOSERS[o] for o, _ in reversed(stack))
    yield Candidate(code.rstrip() + closing + "\n", "close-brackets",
                    f"Brackets were left open; {closing!r} at the end closes them.")
    if len(stack) == 1:
        opened_at = stack[0][1]
        for offset in sorted((o for o in closers_after if o > opened_at), reverse=True):
            yield Candidate(code[:offset] + closing + code[offset:], "close-brackets",
                            f"A {stack[0][0]!r} was left open; it is closed after the expression it wraps.",
                            preserves_meaning=False)


def fix_backend_error(src: Source, diag: Diagnosis, ctx: FixContext) -> Iterator[Candidate]:
    """A cast that fails on some rows becomes ``try_cast`` (NULL instead of an error)."""
    if "Conversion" in diag.error_type or "convert" in diag.message.lower():
        edits = [
            src.replace(node.func, f"{src.text(node.func.value)}.try_cast")
            for node in src.walk()
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "cast"
        ]
        if edits:
            yield Candidate(src.apply(edits), "try-cast",
                            "Some values cannot be converted by the backend; try_cast returns NULL for them instead of failing.",
                            preserves_meaning=False)
    yield from fix_type_mismatch(src, diag, ctx)
