"""Typed edits that apply to any error kind: each rule matches its own pattern in the AST.

A rule proposes edits only where its pattern occurs in the failing statement (or the whole
cell when the failing line is unknown), so running every rule on every error is cheap and
lets one cell's several mistakes be fixed one after another. Which Ibis methods exist and
what they accept is read from the installed ibis (``inspect.signature`` of the expression
types), not from a hand list.
"""

from __future__ import annotations

import ast
import functools
import inspect
import io
import re
import tokenize
from typing import Callable, Iterator

import ibis.expr.types as ir

from ibert_jupyter.repair.candidate import Candidate
from ibert_jupyter.repair.diagnosis import Diagnosis
from ibert_jupyter.repair.fixcontext import FixContext
from ibert_jupyter.repair.idioms import fix_idioms
from ibert_jupyter.repair.namespace_check import add_missing_imports
from ibert_jupyter.repair.relations import fix_column_from_other_table
from ibert_jupyter.repair.source import Source, parenthesize

Rule = Callable[[Source, Diagnosis, FixContext], Iterator[Candidate]]

_TRUTH_VALUE = "truth value"


def _scope_nodes(src: Source, diag: Diagnosis) -> list[ast.AST]:
    return src.nodes_on(diag.line)


def _method_calls(nodes, name: str | None = None):
    for node in nodes:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and (name is None or node.func.attr == name):
            yield node


def _rewrite_calls(src: Source, diag: Diagnosis, rewrite: Callable[[Source, ast.Call], str | None],
                   rule: str, why: str, name: str | None = None) -> Iterator[Candidate]:
    """One candidate that rewrites every method call on the error's line (``name``: only those
    calls) that ``rewrite`` gives new text for; none if it rewrites nothing."""
    edits = []
    for call in _method_calls(_scope_nodes(src, diag), name):
        text = rewrite(src, call)
        if text is not None:
            edits.append(src.replace(call, text))
    if edits:
        yield Candidate(src.apply(edits), rule, why)


# -- imports --------------------------------------------------------------------------------
def fix_missing_import(src: Source, diag: Diagnosis, ctx: FixContext) -> Iterator[Candidate]:
    """The cell uses ``_`` or ``ibis`` that this notebook never imported."""
    fixed = add_missing_imports(src.code, ctx.provided)
    if fixed != src.code:
        added = fixed[: len(fixed) - len(src.code)].strip().replace("\n", "; ")
        yield Candidate(fixed, "add-import",
                        f"The cell uses a name this notebook never imported (in IPython `_` is the last output, "
                        f"not Ibis's deferred `_`); `{added}` was added.")


# -- Python operators on Ibis columns ----------------------------------------------------------
def _as_bitwise(src: Source, node: ast.AST) -> str:
    """Source text of ``node`` with Python ``and``/``or``/``not`` turned into ``&``/``|``/``~``."""
    if isinstance(node, ast.BoolOp):
        op = " & " if isinstance(node.op, ast.And) else " | "
        return op.join(f"({_as_bitwise(src, v)})" if not _atomic(v) else _as_bitwise(src, v) for v in node.values)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        inner = _as_bitwise(src, node.operand)
        return f"~{inner}" if _atomic(node.operand) else f"~({inner})"
    return src.text(node)


def _atomic(node: ast.AST) -> bool:
    return isinstance(node, (ast.Name, ast.Attribute, ast.Call, ast.Subscript, ast.Constant))


def fix_python_bool_ops(src: Source, diag: Diagnosis, ctx: FixContext) -> Iterator[Candidate]:
    """``(a > 1) and (b < 2)`` → ``(a > 1) & (b < 2)``; ``not x.isnull()`` → ``~x.isnull()``."""
    if _TRUTH_VALUE not in diag.message:
        return
    edits = []
    for node in _scope_nodes(src, diag):
        if isinstance(node, (ast.BoolOp, ast.UnaryOp)) and (isinstance(node, ast.BoolOp) or isinstance(node.op, ast.Not)):
            edits.append(src.replace(node, _as_bitwise(src, node)))
        elif (
            isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], (ast.In, ast.NotIn))
            and isinstance(node.comparators[0], (ast.List, ast.Tuple, ast.Set)) and not isinstance(node.left, ast.Constant)
        ):
            method = "isin" if isinstance(node.ops[0], ast.In) else "notin"
            values = "[" + ", ".join(src.text(e) for e in node.comparators[0].elts) + "]"
            edits.append(src.replace(node, f"{parenthesize(src.text(node.left))}.{method}({values})"))
    if edits:
        yield Candidate(src.apply(edits), "bitwise-boolean",
                        "Python's and/or/not/in ask a column for a single True/False; Ibis combines conditions "
                        "with & (and), | (or) and ~ (not), and tests membership with isin([...]).")


def _split_chain(src: Source, node: ast.Compare) -> str | None:
    """``a > 50 & b == "x"`` (parsed as ``a > (50 & b) == "x"``) → ``(a > 50) & (b == "x")``."""
    ops = {ast.BitAnd: "&", ast.BitOr: "|"}
    parts, joiners = [], []
    left = src.text(node.left)
    for op, right in zip(node.ops, node.comparators):
        opt = _COMPARE_TEXT[type(op)]
        if isinstance(right, ast.BinOp) and type(right.op) in ops and right is not node.comparators[-1]:
            parts.append(f"({left} {opt} {src.text(right.left)})")
            joiners.append(ops[type(right.op)])
            left = src.text(right.right)
        else:
            parts.append(None)
            parts[-1] = f"({left} {opt} {src.text(right)})"
            left = src.text(right)
    if not joiners:
        return None
    out = parts[0]
    for joiner, part in zip(joiners, parts[1:]):
        out = f"{out} {joiner} {part}"
    return out


_COMPARE_TEXT = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
                 ast.In: "in", ast.NotIn: "not in", ast.Is: "is", ast.IsNot: "is not"}


def fix_operator_precedence(src: Source, diag: Diagnosis, ctx: FixContext) -> Iterator[Candidate]:
    """``&``/``|`` bind tighter than comparisons: put each comparison in parentheses."""
    if _TRUTH_VALUE not in diag.message and "unsupported operand" not in diag.message and diag.error_type not in {"TypeError", "ValueError", "SignatureValidationError"}:
        return
    edits = []
    for node in _scope_nodes(src, diag):
        if isinstance(node, ast.Compare) and len(node.ops) >= 2:
            text = _split_chain(src, node)
            if text:
                edits.append(src.replace(node, text))
    if edits:
        yield Candidate(src.apply(edits), "parenthesize-comparisons",
                        "& and | bind tighter than comparisons in Python, so `a > 50 & b == 'x'` compared the "
                        "wrong things; each comparison is now in parentheses.")


# -- signatures read from the installed Ibis ---------------------------------------------------
@functools.cache
def _single_sequence_methods() -> frozenset[str]:
    """Expression methods whose only argument is a collection of values (``isin``, ``notin``...)."""
    names = set()
    for owner in vars(ir).values():
        if not isinstance(owner, type):
            continue
        for name, fn in vars(owner).items():
            if name.startswith("_") or not callable(fn):
                continue
            try:
                params = [p for p in inspect.signature(fn).parameters.values() if p.name != "self"]
            except (TypeError, ValueError):
                continue
            if len(params) == 1 and params[0].kind == inspect.Parameter.POSITIONAL_ONLY and re.search(
                r"Iterable|Sequence", str(params[0].annotation)
            ):
                names.add(name)
    return frozenset(names)


def _packed(src: Source, call: ast.Call) -> str | None:
    if call.func.attr not in _single_sequence_methods() or call.keywords:
        return None
    args = call.args
    if len(args) > 1 or (len(args) == 1 and isinstance(args[0], ast.Constant)):
        return f"{src.text(call.func)}([{', '.join(src.text(a) for a in args)}])"
    return None


def fix_pack_arguments(src: Source, diag: Diagnosis, ctx: FixContext) -> Iterator[Candidate]:
    """``col.isin("A", "B")`` → ``col.isin(["A", "B"])``: the method takes one collection."""
    yield from _rewrite_calls(src, diag, _packed, "pack-arguments",
                              "That method takes one list of values (its signature in the installed Ibis has a single "
                              "collection argument); the values are now passed as a list.")


# -- strings Ibis reads as column names --------------------------------------------------------
def fix_string_literal(src: Source, diag: Diagnosis, ctx: FixContext) -> Iterator[Candidate]:
    """``t.mutate(kind="x")``: Ibis reads a bare string as a column name; ``ibis.literal`` means the value."""
    match = re.search(r"Column '([^']*)' is not found", diag.message)
    if not match:
        return
    value = match.group(1)
    constants = _cell_constants(src)
    edits = []
    for call in _method_calls(src.walk()):
        if call.func.attr not in {"mutate", "select", "aggregate", "agg"}:
            continue
        for kw in call.keywords:
            node = kw.value
            literal = isinstance(node, ast.Constant) and isinstance(node.value, str)
            variable = isinstance(node, ast.Name) and (ctx.helpers.get(node.id) == value or constants.get(node.id) == value)
            if literal or variable:
                if literal and kw.arg is not None and node.value != value and _is_column_of_receiver(src, ctx, call, node.value):
                    continue  # a real column reference
                edits.append(src.replace(node, f"ibis.literal({src.text(node)})"))
    if edits:
        yield Candidate(add_missing_imports(src.apply(edits), ctx.provided), "string-literal",
                        "In mutate/select a bare string names a column; wrap a constant string in ibis.literal(...) "
                        "to make it a value.")


def _cell_constants(src: Source) -> dict[str, object]:
    """Names the cell itself binds to a constant (``ticker = "EURUSD"``)."""
    return {
        stmt.targets[0].id: stmt.value.value
        for stmt in src.tree.body
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)
        and isinstance(stmt.value, ast.Constant)
    }


def _is_column_of_receiver(src: Source, ctx: FixContext, call: ast.Call, name: str) -> bool:
    stmt = next((s for s in src.tree.body if s.lineno <= call.lineno <= (s.end_lineno or s.lineno)), None)
    schema = ctx.probe_schema(src.prefix_before(stmt) if stmt else "", src.text(call.func.value))
    return bool(schema and name in schema)


# -- casts the error demands ----------------------------------------------------------------
def fix_concat_cast(src: Source, diag: Diagnosis, ctx: FixContext) -> Iterator[Candidate]:
    """``name + "-" + id`` with an integer ``id``: string concatenation needs ``id.cast("string")``."""
    if "StringConcat" not in diag.message and "unsupported operand" not in diag.message:
        return
    stmt = src.statement_at(diag.line)
    prefix = src.prefix_before(stmt) if stmt is not None else ""
    edits = []
    for node in _scope_nodes(src, diag):
        if not (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add)):
            continue
        sides = [(node.left, ctx.probe_type(prefix, src.text(node.left))), (node.right, ctx.probe_type(prefix, src.text(node.right)))]
        kinds_ = [_type_family(t, n) for n, t in sides]
        if "string" in kinds_ and ("number" in kinds_ or "temporal" in kinds_):
            for (side, _type), kind in zip(sides, kinds_):
                if kind in ("number", "temporal"):
                    edits.append(src.replace(side, f"{parenthesize(src.text(side))}.cast(\"string\")"))
    if edits:
        yield Candidate(src.apply(edits), "cast-to-string",
                        "Ibis does not turn numbers into text implicitly; the number is cast to string before "
                        "it is concatenated.")


def _type_family(dtype: str | None, node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant):
        return "string" if isinstance(node.value, str) else ("number" if isinstance(node.value, (int, float)) else None)
    if not dtype:
        return None
    d = dtype.lstrip("!")
    if d.startswith("string"):
        return "string"
    if d.startswith(("int", "uint", "float", "decimal")):
        return "number"
    if d.startswith(("date", "timestamp", "time")):
        return "temporal"
    return None


# -- grouping --------------------------------------------------------------------------------
def fix_aggregate_without_group_by(src: Source, diag: Diagnosis, ctx: FixContext) -> Iterator[Candidate]:
    """``t.aggregate(t.key, total=...)``: a non-aggregate column becomes a group_by key."""
    if "Aggregate(" not in diag.message and "aggregate()" not in diag.message and "positional argument" not in diag.message:
        return
    stmt = src.statement_at(diag.line)
    prefix = src.prefix_before(stmt) if stmt is not None else ""
    for call in _method_calls(_scope_nodes(src, diag)):
        if call.func.attr not in {"aggregate", "agg"} or not call.args:
            continue
        keys, metrics = [], []
        for arg in call.args:
            expr = ctx.probe(prefix, src.text(arg))
            is_key = (isinstance(arg, ast.Constant) and isinstance(arg.value, str)) or isinstance(expr, ir.Column)
            (keys if is_key else metrics).append(src.text(arg))
        if not keys:
            continue
        rest = metrics + [src.text(k) for k in call.keywords]
        receiver = src.text(call.func.value)
        text = f"{receiver}.group_by({', '.join(keys)}).aggregate({', '.join(rest)})"
        yield Candidate(src.apply([src.replace(call, text)]), "group-by-key",
                        f"{', '.join(keys)} is not an aggregate, so it cannot sit among the aggregates of a whole "
                        "table; it now groups the rows (group_by) and the aggregates are computed per group.",
                        preserves_meaning=False)


def _grouped_column_aggregated(src: Source, call: ast.Call) -> str | None:
    sub = call.func.value
    if not (isinstance(sub, ast.Subscript) and isinstance(sub.slice, ast.Constant) and isinstance(sub.slice.value, str)):
        return None
    grouped = sub.value
    if not (isinstance(grouped, ast.Call) and isinstance(grouped.func, ast.Attribute) and grouped.func.attr in {"group_by", "groupby"}):
        return None
    column = sub.slice.value
    if not column.isidentifier():
        return None
    base = grouped.func.value
    ref = f"{src.text(base)}.{column}" if isinstance(base, ast.Name) else f"_.{column}"
    args = ", ".join(src.text(a) for a in call.args)
    return f"{src.text(grouped)}.aggregate({column}={ref}.{call.func.attr}({args}))"


def fix_grouped_column_aggregate(src: Source, diag: Diagnosis, ctx: FixContext) -> Iterator[Candidate]:
    """pandas ``t.group_by(k)["col"].sum()`` → ``t.group_by(k).aggregate(col=t.col.sum())``."""
    yield from _rewrite_calls(src, diag, _grouped_column_aggregated, "grouped-column-aggregate",
                              "pandas aggregates one column of a groupby with df.groupby(k)['col'].sum(); in Ibis that is "
                              "group_by(k).aggregate(col=t.col.sum()), which keeps the column's name.")


# -- joins --------------------------------------------------------------------------------------
def fix_join_on_keyword(src: Source, diag: Diagnosis, ctx: FixContext) -> Iterator[Candidate]:
    """``a.join(b, on=...)``: Ibis takes the join keys/predicates as the second positional argument."""
    if diag.name != "on":
        return
    yield from _rewrite_calls(src, diag, _join_on_positional, "join-predicates",
                              "Ibis's join takes the keys (or a condition) as its second argument, not on=...")


def _join_on_positional(src: Source, call: ast.Call) -> str | None:
    on = next((k for k in call.keywords if k.arg == "on"), None)
    if not call.func.attr.endswith("join") or on is None or len(call.args) != 1:
        return None
    rest = [src.text(k) for k in call.keywords if k.arg != "on"]
    return f"{src.text(call.func)}({', '.join([src.text(call.args[0]), src.text(on.value), *rest])})"


# -- window idioms --------------------------------------------------------------------------------
def fix_rank_ascending(src: Source, diag: Diagnosis, ctx: FixContext) -> Iterator[Candidate]:
    """pandas ``col.rank(ascending=False)`` → ``ibis.rank().over(order_by=ibis.desc(col)) + 1``."""
    if diag.name != "ascending":
        return
    edits = []
    for call in _method_calls(_scope_nodes(src, diag), "rank"):
        ascending = next((k for k in call.keywords if k.arg == "ascending"), None)
        if ascending is None or call.args or not isinstance(ascending.value, ast.Constant):
            continue
        col = src.text(call.func.value)
        key = col if ascending.value.value else f"ibis.desc({col})"
        edits.append(src.replace(call, f"(ibis.rank().over(order_by={key}) + 1)"))
    if edits:
        yield Candidate(add_missing_imports(src.apply(edits), ctx.provided), "rank-over-window",
                        "Ibis ranks over a window ordered by the column (ibis.desc for descending) and counts from 0; "
                        "+ 1 counts from 1 like pandas. Ties get the lowest rank (pandas' default averages them).",
                        preserves_meaning=False)


# -- SyntaxError: = for == ------------------------------------------------------------------------
def fix_assignment_for_comparison(code: str, diag: Diagnosis) -> Iterator[Candidate]:
    """``t.filter(t.x = 1)``: Python says "perhaps you meant '=='"; a comparison was meant."""
    if "==" not in diag.message and "assignment" not in diag.message:
        return
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return
    lines = code.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    depth = 0
    spots = []
    for i, tok in enumerate(tokens):
        if tok.type == tokenize.OP and tok.string in "([{":
            depth += 1
        elif tok.type == tokenize.OP and tok.string in ")]}":
            depth -= 1
        elif tok.type == tokenize.OP and tok.string == "=" and depth > 0:
            before = tokens[i - 2] if i >= 2 else None
            # keyword arguments look like `name=`; an attribute/subscript before `=` cannot be one
            if before is not None and (before.string == "." or tokens[i - 1].string in ")]"):
                spots.append(starts[tok.start[0] - 1] + tok.start[1])
    if not spots:
        return
    fixed = code
    for offset in reversed(spots):
        fixed = fixed[:offset] + "==" + fixed[offset + 1 :]
    yield Candidate(fixed, "comparison-not-assignment",
                    "`=` assigns; inside filter(...) a comparison was meant, so `=` became `==` (as Python suggests).")


# -- len() and friends ----------------------------------------------------------------------------
def fix_len(src: Source, diag: Diagnosis, ctx: FixContext) -> Iterator[Candidate]:
    """``len(t)`` → ``t.count()`` (Ibis: "Use .count() instead")."""
    if ".count()" not in diag.message:
        return
    edits = [
        src.replace(n, f"{parenthesize(src.text(n.args[0]))}.count()")
        for n in _scope_nodes(src, diag)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "len" and len(n.args) == 1
    ]
    if edits:
        yield Candidate(src.apply(edits), "len-to-count",
                        "An Ibis table is lazy and has no len(); .count() counts its rows in the backend.")


def fix_rename_columns_keyword(src: Source, diag: Diagnosis, ctx: FixContext) -> Iterator[Candidate]:
    """pandas ``t.rename(columns={"old": "new"})`` → Ibis ``t.rename(new="old")``."""
    yield from _rewrite_calls(src, diag, _rename_new_equals_old, "rename-new-equals-old",
                              "pandas renames with columns={old: new}; Ibis's rename takes new=old.", name="rename")


def _rename_new_equals_old(src: Source, call: ast.Call) -> str | None:
    columns = next((k for k in call.keywords if k.arg == "columns"), None)
    if columns is None or not isinstance(columns.value, ast.Dict) or call.args:
        return None
    pairs = []
    for key, value in zip(columns.value.keys, columns.value.values):
        if not (isinstance(key, ast.Constant) and isinstance(value, ast.Constant)):
            return None
        pairs.append((key.value, value.value))
    if all(isinstance(new, str) and new.isidentifier() for _, new in pairs):
        args = ", ".join(f"{new}={old!r}" for old, new in pairs)
    else:
        args = "{" + ", ".join(f"{new!r}: {old!r}" for old, new in pairs) + "}"
    return f"{src.text(call.func)}({args})"


def fix_method_not_called(src: Source, diag: Diagnosis, ctx: FixContext) -> Iterator[Candidate]:
    """``t.date.month`` used as a value: Ibis date parts are methods, ``t.date.month()``."""
    stmt = src.statement_at(diag.line)
    prefix = src.prefix_before(stmt) if stmt is not None else ""
    called = {id(n.func) for n in src.walk() if isinstance(n, ast.Call)}
    receivers = {id(n.value) for n in src.walk() if isinstance(n, (ast.Attribute, ast.Subscript))}
    edits = []
    for node in _scope_nodes(src, diag):
        if not isinstance(node, ast.Attribute) or id(node) in called or id(node) in receivers:
            continue
        owner = ctx.probe(prefix, src.text(node.value))
        if not isinstance(owner, ir.Value):
            continue
        member = getattr(type(owner), node.attr, None)
        if not callable(member):
            continue
        try:
            required = [p for p in inspect.signature(member).parameters.values()
                        if p.name != "self" and p.default is inspect.Parameter.empty
                        and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        except (TypeError, ValueError):
            continue
        if not required:
            edits.append(src.replace(node, f"{src.text(node)}()"))
    if edits:
        yield Candidate(src.apply(edits), "call-method",
                        "That is a method of the Ibis column, not a value; it is now called.")


_AGG_FUNCTIONS = {"sum": "sum", "mean": "mean", "min": "min", "max": "max", "count": "count", "nunique": "nunique",
                  "std": "std", "var": "var", "median": "median", "first": "first", "last": "last", "size": "count"}
_JOIN_KINDS = {"left_outer": "left", "right_outer": "right", "full": "outer", "full_outer": "outer", "outer_join": "outer",
               "leftouter": "left", "rightouter": "right", "fullouter": "outer", "inner_join": "inner"}


def fix_pandas_keywords(src: Source, diag: Diagnosis, ctx: FixContext) -> Iterator[Candidate]:
    """pandas call shapes on Ibis methods: ``drop(columns=[..])``, ``agg({"col": "sum"})``,
    ``rename({old: new})`` (Ibis maps new ← old), ``join(how="left_outer")``."""
    stmt = src.statement_at(diag.line)
    prefix = src.prefix_before(stmt) if stmt is not None else ""
    edits, why = [], []
    for call in _method_calls(_scope_nodes(src, diag)):
        name, owner = call.func.attr, call.func.value
        columns = next((k for k in call.keywords if k.arg == "columns"), None)
        if name == "drop" and columns is not None and isinstance(columns.value, (ast.List, ast.Tuple)):
            args = [src.text(a) for a in call.args] + [src.text(e) for e in columns.value.elts]
            edits.append(src.replace(call, f"{src.text(call.func)}({', '.join(args)})"))
            why.append("Ibis's drop takes the column names themselves, not columns=[...]")
        elif name in {"agg", "aggregate"} and len(call.args) == 1 and isinstance(call.args[0], ast.Dict) and not call.keywords:
            parts = []
            for key, value in zip(call.args[0].keys, call.args[0].values):
                if not (isinstance(key, ast.Constant) and isinstance(key.value, str) and key.value.isidentifier()
                        and isinstance(value, ast.Constant) and value.value in _AGG_FUNCTIONS):
                    parts = []
                    break
                base = _grouped_base(owner)
                ref = f"{src.text(base)}.{key.value}" if isinstance(base, ast.Name) else f"_.{key.value}"
                parts.append(f"{key.value}={ref}.{_AGG_FUNCTIONS[value.value]}()")
            if parts:
                edits.append(src.replace(call, f"{src.text(owner)}.aggregate({', '.join(parts)})"))
                why.append("pandas agg({'col': 'sum'}) is aggregate(col=t.col.sum()) in Ibis")
        elif name == "rename" and len(call.args) == 1 and isinstance(call.args[0], ast.Dict) and not call.keywords:
            mapping = call.args[0]
            if all(isinstance(k, ast.Constant) and isinstance(v, ast.Constant) for k, v in zip(mapping.keys, mapping.values)):
                schema = ctx.probe_schema(prefix, src.text(owner)) or {}
                keys = [k.value for k in mapping.keys]
                values = [v.value for v in mapping.values]
                if schema and all(k in schema for k in keys) and not any(v in schema for v in values):
                    pairs = ", ".join(f"{src.text(v)}: {src.text(k)}" for k, v in zip(mapping.keys, mapping.values))
                    edits.append(src.replace(mapping, "{" + pairs + "}"))
                    why.append("Ibis's rename maps {new: old}; the mapping was written the pandas way round")
        how = next((k for k in call.keywords if k.arg == "how"), None)
        if name.endswith("join") and how is not None and isinstance(how.value, ast.Constant) and how.value.value in _JOIN_KINDS:
            edits.append(src.replace(how.value, repr(_JOIN_KINDS[how.value.value])))
            why.append(f"Ibis calls the join kind {_JOIN_KINDS[how.value.value]!r}")
    if edits:
        yield Candidate(src.apply(edits), "pandas-call-shape", "; ".join(dict.fromkeys(why)) + ".")


def _grouped_base(node: ast.AST) -> ast.AST:
    """``t`` in ``t.group_by(k)`` (the table the aggregates read)."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in {"group_by", "groupby"}:
        return node.func.value
    return node


_RANKING = frozenset({"rank", "dense_rank", "percent_rank", "cume_dist", "ntile", "row_number"})
_NOOP_KEYWORDS = {("skipna", True), ("ascending", True), ("inplace", False), ("dropna", True), ("numeric_only", False)}


def fix_noop_keyword(src: Source, diag: Diagnosis, ctx: FixContext) -> Iterator[Candidate]:
    """Drop a pandas keyword whose value is what Ibis always does (``skipna=True``)."""
    if not diag.name:
        return

    def without_noop(src: Source, call: ast.Call) -> str | None:
        if call.func.attr in _RANKING:  # pandas ranks count from 1, Ibis's from 0: not a no-op
            return None
        kept = [k for k in call.keywords if not (k.arg == diag.name and isinstance(k.value, ast.Constant)
                                                  and (k.arg, k.value.value) in _NOOP_KEYWORDS)]
        if len(kept) == len(call.keywords):
            return None
        return f"{src.text(call.func)}({', '.join([src.text(a) for a in call.args] + [src.text(k) for k in kept])})"

    yield from _rewrite_calls(src, diag, without_noop, "drop-noop-keyword",
                              f"{diag.name}= is pandas API, and its value is what Ibis always does; it was removed.")


GENERAL_RULES: tuple[Rule, ...] = (
    fix_missing_import,
    fix_idioms,
    fix_python_bool_ops,
    fix_operator_precedence,
    fix_pack_arguments,
    fix_string_literal,
    fix_concat_cast,
    fix_join_on_keyword,
    fix_len,
    fix_rename_columns_keyword,
    fix_noop_keyword,
    fix_method_not_called,
    fix_rank_ascending,
    fix_aggregate_without_group_by,
    fix_grouped_column_aggregate,
    fix_pandas_keywords,
    fix_column_from_other_table,
)
