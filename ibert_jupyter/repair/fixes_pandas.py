"""Rewrite pandas idioms written against Ibis expressions into their Ibis spelling.

One small function per idiom, in a table keyed by the pandas attribute name. The mapping of
*meaning* (pandas ``sort_values(ascending=False)`` is Ibis ``order_by(ibis.desc(..))``) has to
be written down; which Ibis names exist is checked against the installed ibis at fix time
by the verifier.
"""

from __future__ import annotations

import ast
from typing import Callable, Iterator

from ibert_jupyter.repair.candidate import Candidate
from ibert_jupyter.repair.diagnosis import Diagnosis
from ibert_jupyter.repair.fixcontext import FixContext
from ibert_jupyter.repair.source import Edit, Source, parenthesize

# pandas .str / .dt accessor methods -> Ibis method (None: same name).
STR_METHODS: dict[str, str | None] = {
    "upper": None, "lower": None, "strip": None, "lstrip": None, "rstrip": None,
    "startswith": None, "endswith": None, "contains": None, "replace": None, "split": None,
    "like": None, "ilike": None, "capitalize": None, "find": None, "repeat": None,
    "len": "length", "match": "re_search", "title": "capitalize", "slice": "substr",
    "extract": "re_extract", "cat": "concat", "lpad": None, "rpad": None,
}
DT_ATTRIBUTES: dict[str, str] = {
    "year": "year", "month": "month", "day": "day", "hour": "hour", "minute": "minute",
    "second": "second", "quarter": "quarter", "dayofweek": "day_of_week.index",
    "weekday": "day_of_week.index", "day_name": "day_of_week.full_name", "date": "date",
    "dayofyear": "day_of_year", "week": "week_of_year", "strftime": "strftime",
}
PANDAS_DTYPES: dict[str, str] = {
    "str": "string", "object": "string", "category": "string", "string": "string",
    "int": "int64", "float": "float64", "bool": "boolean", "datetime64": "timestamp",
    "datetime64[ns]": "timestamp", "datetime64[us]": "timestamp", "Int64": "int64",
    "Float64": "float64", "boolean": "boolean",
}
SIMPLE_RENAMES: dict[str, str] = {
    "groupby": "group_by", "isna": "isnull", "notna": "notnull", "fillna": "fill_null",
    "dropna": "drop_null", "drop_duplicates": "distinct", "map": "substitute",
}


def _keyword(call: ast.Call, name: str) -> ast.keyword | None:
    return next((k for k in call.keywords if k.arg == name), None)


def _call_of(src: Source, attribute: ast.Attribute) -> ast.Call | None:
    for node in src.walk():
        if isinstance(node, ast.Call) and node.func is attribute:
            return node
    return None


def _args_text(src: Source, call: ast.Call, drop: set[str] = frozenset()) -> str:
    parts = [src.text(a) for a in call.args]
    parts += [src.text(k) for k in call.keywords if k.arg not in drop]
    return ", ".join(parts)


def _desc_keys(src: Source, keys: ast.expr, ascending: ast.expr | None) -> str | None:
    """pandas ``by``/``ascending`` as Ibis order keys (``ibis.desc`` where descending)."""
    items = keys.elts if isinstance(keys, (ast.List, ast.Tuple)) else [keys]
    texts = [src.text(k) for k in items]
    if ascending is None:
        flags = [True] * len(items)
    elif isinstance(ascending, ast.Constant) and isinstance(ascending.value, bool):
        flags = [ascending.value] * len(items)
    elif isinstance(ascending, (ast.List, ast.Tuple)) and all(
        isinstance(e, ast.Constant) for e in ascending.elts
    ):
        flags = [bool(e.value) for e in ascending.elts]
        if len(flags) != len(items):
            return None
    else:
        return None
    out = [t if up else f"ibis.desc({t})" for t, up in zip(texts, flags)]
    return ", ".join(out) if len(out) > 1 or not isinstance(keys, (ast.List, ast.Tuple)) else f"[{out[0]}]"


def _sort_values(src: Source, attr: ast.Attribute, call: ast.Call | None) -> Iterator[Edit]:
    if call is None:
        return
    by = call.args[0] if call.args else getattr(_keyword(call, "by"), "value", None)
    if by is None:
        return
    ascending = call.args[1] if len(call.args) > 1 else getattr(_keyword(call, "ascending"), "value", None)
    keys = _desc_keys(src, by, ascending)
    if keys is not None:
        yield src.replace(call, f"{src.text(attr.value)}.order_by({keys})")


def _order_by_ascending(src: Source, call: ast.Call) -> Iterator[Edit]:
    """``order_by(keys, ascending=...)`` (a pandas keyword) → ``ibis.desc`` keys."""
    ascending = _keyword(call, "ascending")
    if ascending is None or not isinstance(call.func, ast.Attribute) or not call.args:
        return
    by = call.args[0] if len(call.args) == 1 else ast.List(elts=list(call.args))
    if by is not call.args[0]:
        texts = [src.text(a) for a in call.args]
        flags = _desc_keys_flags(ascending.value, len(texts))
        if flags is None:
            return
        keys = ", ".join(t if up else f"ibis.desc({t})" for t, up in zip(texts, flags))
    else:
        keys = _desc_keys(src, by, ascending.value)
    if keys is not None:
        yield src.replace(call, f"{src.text(call.func.value)}.order_by({keys})")


def _desc_keys_flags(node: ast.expr, n: int) -> list[bool] | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, bool):
        return [node.value] * n
    if isinstance(node, (ast.List, ast.Tuple)) and len(node.elts) == n:
        return [bool(getattr(e, "value", True)) for e in node.elts]
    return None


def _astype(src: Source, attr: ast.Attribute, call: ast.Call | None) -> Iterator[Edit]:
    if call is None or not call.args:
        return
    arg = call.args[0]
    if isinstance(arg, ast.Name):
        dtype = PANDAS_DTYPES.get(arg.id, arg.id)
    elif isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        dtype = PANDAS_DTYPES.get(arg.value, arg.value)
    else:
        yield src.replace(call, f"{src.text(attr.value)}.cast({src.text(arg)})")
        return
    yield src.replace(call, f"{src.text(attr.value)}.cast({dtype!r})")


def _accessor(src: Source, attr: ast.Attribute, call: ast.Call | None) -> Iterator[Edit]:
    """``x.str.upper()`` → ``x.upper()``; ``x.dt.year`` → ``x.year()``."""
    for parent in src.walk():
        if isinstance(parent, ast.Attribute) and parent.value is attr:
            method = parent.attr
            owner = src.text(attr.value)
            if attr.attr == "str":
                target = STR_METHODS.get(method, None) or method
                yield src.replace(parent, f"{owner}.{target}")
            else:
                target = DT_ATTRIBUTES.get(method, method)
                outer = _call_of(src, parent)
                if outer is None:  # attribute form: .dt.year
                    yield src.replace(parent, f"{owner}.{target}()")
                else:
                    yield src.replace(parent, f"{owner}.{target}")


def _merge(src: Source, attr: ast.Attribute, call: ast.Call | None) -> Iterator[Edit]:
    if call is None or not call.args:
        return
    left, right = src.text(attr.value), src.text(call.args[0])
    on, left_on, right_on = (_keyword(call, k) for k in ("on", "left_on", "right_on"))
    how = _keyword(call, "how")
    if on is not None:
        predicate = src.text(on.value)
    elif left_on is not None and right_on is not None:
        lk, rk = left_on.value, right_on.value
        lks = lk.elts if isinstance(lk, (ast.List, ast.Tuple)) else [lk]
        rks = rk.elts if isinstance(rk, (ast.List, ast.Tuple)) else [rk]
        if len(lks) != len(rks):
            return
        parts = []
        for a, b in zip(lks, rks):
            a_ref = f"{parenthesize(left)}[{src.text(a)}]" if isinstance(a, ast.Constant) else src.text(a)
            b_ref = f"{parenthesize(right)}[{src.text(b)}]" if isinstance(b, ast.Constant) else src.text(b)
            parts.append(f"{a_ref} == {b_ref}")
        predicate = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    else:
        return
    how_text = f", how={src.text(how.value)}" if how is not None else ""
    yield src.replace(call, f"{left}.join({right}, {predicate}{how_text})")


def _indexer(src: Source, attr: ast.Attribute, call: ast.Call | None) -> Iterator[Edit]:
    """``t.loc[mask, cols]`` → ``t.filter(mask).select(cols)``; ``t.iloc[:n]`` → ``t.limit(n)``."""
    owner = src.text(attr.value)
    for node in src.walk():
        if not (isinstance(node, ast.Subscript) and node.value is attr):
            continue
        index = node.slice
        if attr.attr == "iloc":
            if isinstance(index, ast.Slice) and index.step is None and index.upper is not None:
                upper = src.text(index.upper)
                if index.lower is None:
                    yield src.replace(node, f"{owner}.limit({upper})")
                else:
                    lower = src.text(index.lower)
                    yield src.replace(node, f"{owner}.limit({upper} - {lower}, offset={lower})")
            return
        rows, cols = (index.elts if isinstance(index, ast.Tuple) and len(index.elts) == 2 else (index, None))
        out = owner
        if not (isinstance(rows, ast.Slice) and rows.lower is rows.upper is rows.step is None):
            out = f"{out}.filter({src.text(rows)})"
        if cols is not None:
            out = f"{out}.select({src.text(cols)})"
        yield src.replace(node, out)


def _apply(src: Source, attr: ast.Attribute, call: ast.Call | None) -> Iterator[Edit]:
    """``col.apply(lambda v: v * 2)`` → ``col * 2`` (the lambda inlined on the column)."""
    if call is None or len(call.args) != 1 or not isinstance(call.args[0], ast.Lambda):
        return
    fn = call.args[0]
    if len(fn.args.args) != 1:
        return
    param = fn.args.args[0].arg
    owner = parenthesize(src.text(attr.value))
    body = Source(src.text(fn.body))
    edits = [
        body.replace(n, owner)
        for n in body.walk()
        if isinstance(n, ast.Name) and n.id == param
    ]
    yield src.replace(call, parenthesize(body.apply(edits)))


def _rename_method(src: Source, attr: ast.Attribute, call: ast.Call | None) -> Iterator[Edit]:
    target = SIMPLE_RENAMES[attr.attr]
    if call is not None and attr.attr == "groupby":
        by = getattr(_keyword(call, "by"), "value", None)
        args = ([src.text(by)] if by is not None else []) + [src.text(a) for a in call.args]
        args += [src.text(k) for k in call.keywords if k.arg not in {"by", "as_index", "sort", "dropna"}]
        yield src.replace(call, f"{src.text(attr.value)}.group_by({', '.join(args)})")
        return
    yield src.replace(attr, f"{src.text(attr.value)}.{target}")


def _reset_index(src: Source, attr: ast.Attribute, call: ast.Call | None) -> Iterator[Edit]:
    if call is not None:
        yield src.replace(call, src.text(attr.value))


def _nlargest(src: Source, attr: ast.Attribute, call: ast.Call | None) -> Iterator[Edit]:
    if call is None or len(call.args) < 2:
        return
    n, col = (src.text(a) for a in call.args[:2])
    order = f"ibis.desc({col})" if attr.attr == "nlargest" else col
    yield src.replace(call, f"{src.text(attr.value)}.order_by({order}).limit({n})")


IDIOMS: dict[str, Callable[[Source, ast.Attribute, ast.Call | None], Iterator[Edit]]] = {
    "sort_values": _sort_values,
    "astype": _astype,
    "str": _accessor,
    "dt": _accessor,
    "merge": _merge,
    "loc": _indexer,
    "iloc": _indexer,
    "apply": _apply,
    "reset_index": _reset_index,
    "nlargest": _nlargest,
    "nsmallest": _nlargest,
    **{name: _rename_method for name in SIMPLE_RENAMES},
}


def fix_pandas_idiom(src: Source, diag: Diagnosis, ctx: FixContext) -> Iterator[Candidate]:
    """Rewrite every use of the offending pandas idiom in the failing statement."""
    if diag.error_type == "TypeError" and diag.name == "ascending":
        edits = [
            e
            for node in src.nodes_on(diag.line)
            if isinstance(node, ast.Call) and _keyword(node, "ascending") is not None
            for e in _order_by_ascending(src, node)
        ]
        if edits:
            yield Candidate(src.apply(edits), "pandas-ascending",
                            "Ibis sorts with order_by(...) and marks descending keys with ibis.desc(...); it has no 'ascending' argument.")
        return
    rewrite = IDIOMS.get(diag.name or "")
    if rewrite is None:
        return
    for scope in (diag.line, None):
        edits = [
            edit
            for node in src.nodes_on(scope)
            if isinstance(node, ast.Attribute) and node.attr == diag.name
            for edit in rewrite(src, node, _call_of(src, node))
        ]
        if edits:
            yield Candidate(src.apply(edits), f"pandas-{diag.name}", _EXPLANATIONS.get(diag.name, _DEFAULT).format(name=diag.name),
                            preserves_meaning=diag.name not in _GUESSES)
            return


# Rewrites that only approximate the pandas meaning: rows have no positions in SQL.
_GUESSES = frozenset({"iloc", "reset_index"})
_DEFAULT = "{name!r} is pandas API; Ibis expressions spell it differently, so it was rewritten to the Ibis equivalent."
_EXPLANATIONS = {
    "groupby": "Ibis groups with group_by(...) followed by agg(...); groupby is the pandas spelling.",
    "str": "Ibis string columns have the string methods directly (col.upper(), col.like(...)); there is no .str accessor.",
    "dt": "Ibis temporal columns have the date parts as methods (col.year()); there is no .dt accessor.",
    "astype": "Ibis converts types with cast(...); astype is the pandas spelling and pandas dtype names map to Ibis types.",
    "sort_values": "Ibis sorts with order_by(...); descending keys are wrapped in ibis.desc(...).",
    "merge": "Ibis joins with join(other, predicates, how=...); merge is the pandas spelling.",
    "loc": "Ibis selects rows with filter(...) and columns with select(...); there is no .loc indexer.",
    "iloc": "Ibis tables have no row positions; limit(n, offset=...) takes a slice of rows.",
    "apply": "Ibis has no row-wise apply; the lambda was inlined as a vectorised column expression.",
}
