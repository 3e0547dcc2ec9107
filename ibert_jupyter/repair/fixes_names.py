"""Fixes for names that do not exist: columns, methods, renamed APIs, variables.

Replacement names come from the kernel (the relation's real schema, probed in the sandbox)
or from the installed ibis (``dir()`` of the expression type, deprecation notes), ranked by
name similarity and, for columns, by type compatibility with what they are compared to.
"""

from __future__ import annotations

import ast
import difflib
import functools
from typing import Iterator

import ibis
import ibis.expr.types as ir

from ibert_jupyter.repair.api_changes import REMOVED_METHODS, deprecated_methods, nearest_method
from ibert_jupyter.repair.candidate import Candidate
from ibert_jupyter.repair.diagnosis import PANDAS_ATTRIBUTES, Diagnosis
from ibert_jupyter.repair.fixcontext import FixContext, same_family
from ibert_jupyter.repair.source import Source, assigned_names

MAX_NAME_CANDIDATES = 3
CLOSE_NAME = 0.8  # close enough to propose


def typo_distance(a: str, b: str) -> int:
    """Edits (insert, delete, substitute, swap adjacent) between two names, case-insensitive."""
    a, b = a.lower(), b.lower()
    d = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        d[i][0] = i
    for j in range(len(b) + 1):
        d[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]


def is_typo(wrong: str, name: str) -> bool:
    """A rename that fixes a slip of the keyboard (verified), not a different name (a guess):
    one edit, or two in a long name. ``ordres`` → ``orders`` is; ``city_x`` → ``city`` is not."""
    distance = typo_distance(wrong, name)
    return distance <= 1 or (distance == 2 and min(len(wrong), len(name)) >= 8)


def _suffix(name: str) -> str:
    return name.split("_", 1)[1] if "_" in name else name


def _similarity(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a.lower(), b.lower()).ratio()


def rank_columns(
    wrong: str, schema: dict[str, str], want_type: str | None = None, partner: str | None = None
) -> list[str]:
    """Columns of ``schema`` most likely meant by ``wrong``.

    Name similarity first; a column whose type matches what it is compared with
    (``want_type``) or whose suffix matches the other side's name (``partner``, as in join
    keys ``o_custkey == c_custkey``) ranks higher.
    """
    scored = []
    for name, dtype in schema.items():
        score = _similarity(wrong, name)
        if partner:
            score = max(score, 0.9 * _similarity(_suffix(partner), _suffix(name)))
        if want_type is not None:
            score += 0.3 if same_family(dtype, want_type) else -0.3
        if score >= 0.45:
            scored.append((score, name))
    scored.sort(key=lambda item: (-item[0], item[1]))
    return [name for _, name in scored[:MAX_NAME_CANDIDATES]]


def _compared_with(src: Source, node: ast.AST) -> ast.expr | None:
    """The other operand when ``node`` is one side of a comparison."""
    for parent in src.walk():
        if isinstance(parent, ast.Compare) and len(parent.comparators) == 1:
            left, right = parent.left, parent.comparators[0]
            if left is node:
                return right
            if right is node:
                return left
    return None


def _root(node: ast.AST | None) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Call, ast.Subscript)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _receiver_schema(src: Source, ctx: FixContext, stmt: ast.stmt | None, receiver: ast.expr):
    prefix = src.prefix_before(stmt) if stmt is not None else ""
    return ctx.probe_schema(prefix, src.text(receiver))


def _column_sites(src: Source, name: str, line: int | None) -> list[ast.AST]:
    """Attribute accesses ``x.name`` and string literals ``"name"`` on the failing statement."""
    sites = []
    for node in src.nodes_on(line):
        if isinstance(node, ast.Attribute) and node.attr == name:
            sites.append(node)
        elif isinstance(node, ast.Constant) and node.value == name:
            sites.append(node)
    if not sites and line is not None:
        return _column_sites(src, name, None)
    return sites


def fix_unknown_column(src: Source, diag: Diagnosis, ctx: FixContext) -> Iterator[Candidate]:
    wrong = diag.name
    if not wrong:
        return
    stmt = src.statement_at(diag.line)
    sites = _column_sites(src, wrong, diag.line)
    if sites and all(_is_called(src, s) for s in sites):
        yield from fix_unknown_method(src, diag, ctx)  # t.relabel(...) is a method, not a column
        return
    prefix = src.prefix_before(stmt) if stmt is not None else ""
    # Keep only accesses on relations that really lack the column (o.o_custkey is fine).
    sites = [
        s for s in sites
        if not (isinstance(s, ast.Attribute) and wrong in (ctx.probe_schema(prefix, src.text(s.value)) or {}))
    ]
    if not sites:
        return
    # A relation in scope that has exactly this column: the reference is stale, not misspelt.
    attribute_sites = [s for s in sites if isinstance(s, ast.Attribute) and isinstance(s.value, ast.Name)]
    rebinds: list[Candidate] = []
    if attribute_sites:
        for holder in sorted(assigned_names(src.tree) | set(ctx.tables)):
            if holder in {s.value.id for s in attribute_sites}:
                continue
            partners = {_root(_compared_with(src, s)) for s in attribute_sites}
            if holder in partners:  # a.o_key == o.o_key: rebinding would compare o with itself
                continue
            if wrong in (ctx.probe_schema(prefix, holder) or {}):
                rebinds.append(Candidate(
                    src.apply(src.replace(s.value, holder) for s in attribute_sites),
                    "rebind-relation",
                    f"{wrong!r} is a column of {holder!r}, the relation derived earlier, not of "
                    f"{attribute_sites[0].value.id!r}; the reference now points at {holder!r}.",
                    preserves_meaning=False,
                ))
    # The relation the failing access was made on decides the pool of real columns.
    schema = None
    want_type = partner = None
    for site in sites:
        if isinstance(site, ast.Attribute) and not (
            isinstance(site.value, ast.Name) and site.value.id == "_"
        ):
            schema = _receiver_schema(src, ctx, stmt, site.value)
            other = _compared_with(src, site)
            if other is not None:
                prefix = src.prefix_before(stmt) if stmt is not None else ""
                want_type = ctx.probe_type(prefix, src.text(other))
                partner = other.attr if isinstance(other, ast.Attribute) else None
            if schema is not None:
                break
    if schema is None:
        schema = _string_site_schema(src, ctx, stmt, sites)
    in_other_table = any(wrong in t.schema() for t in ctx.tables.values())
    if schema is not None:
        suffixed = _pandas_suffix(wrong, schema)
        if suffixed:
            yield Candidate(
                src.apply(_rename_sites(src, sites, suffixed)), "join-suffix",
                f"pandas names a clashing column {wrong!r} (_x left, _y right); Ibis keeps the left one's name "
                f"and calls the right one's {{name}}_right, so it is {suffixed!r} here.",
            )
            return
    ranked = rank_columns(wrong, schema if schema is not None else ctx.all_columns(), want_type, partner)
    if schema is None:
        schema = ctx.all_columns()
    if in_other_table:  # only look-alikes that are really typos; the join rule handles the rest
        ranked = [name for name in ranked if _similarity(wrong, name) >= CLOSE_NAME]
    # A near-identical column name on the same relation beats rebinding to another relation.
    if not ranked or _similarity(wrong, ranked[0]) < CLOSE_NAME:
        yield from rebinds
        rebinds = []
    for name in ranked:
        edits = []
        for site in sites:
            if isinstance(site, ast.Attribute):
                edits.append(src.replace(site, f"{src.text(site.value)}.{name}"))
            else:
                edits.append(src.replace(site, repr(name)))
        typed = f" of type {schema[name]}" if name in schema else ""
        close = is_typo(wrong, name)
        yield Candidate(
            src.apply(edits),
            "nearest-column",
            f"There is no column {wrong!r} on that relation; the closest existing column by "
            f"name{' and type' if want_type else ''} is {name!r}{typed}."
            + ("" if close else " The names differ a lot, so this is a guess."),
            preserves_meaning=close,
        )
    yield from rebinds


def _rename_sites(src: Source, sites: list[ast.AST], name: str):
    return [
        src.replace(site, f"{src.text(site.value)}.{name}") if isinstance(site, ast.Attribute) else src.replace(site, repr(name))
        for site in sites
    ]


def _pandas_suffix(wrong: str, schema: dict[str, str]) -> str | None:
    """``city_x`` → ``city``, ``city_y`` → ``city_right`` when the relation has those columns."""
    for suffix, ibis_name in (("_x", "{}"), ("_y", "{}_right")):
        if wrong.endswith(suffix):
            base = wrong[: -len(suffix)]
            target = ibis_name.format(base)
            if target in schema and (suffix == "_y" or f"{base}_right" in schema):
                return target
    return None


@functools.cache
def _pandas_names() -> frozenset[str]:
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover
        return frozenset(PANDAS_ATTRIBUTES)
    return frozenset(PANDAS_ATTRIBUTES) | {n for n in dir(pd.Series) + dir(pd.DataFrame) if not n.startswith("_")}


def _is_pandas_name(name: str | None) -> bool:
    return bool(name) and name in _pandas_names()


def _string_site_schema(src: Source, ctx: FixContext, stmt, sites) -> dict[str, str] | None:
    """Schema of the relation a string or deferred column name is looked up in: the receiver of
    the call holding it (``r.order_by(ibis.desc("totl"))`` and ``r.filter(_.x_y)`` look in
    ``r``, not in the base tables)."""
    scope = list(src.nodes_on(stmt.lineno if stmt is not None else None))
    for site in sites:
        deferred = isinstance(site, ast.Attribute) and isinstance(site.value, ast.Name) and site.value.id == "_"
        if not (isinstance(site, ast.Constant) or deferred):
            continue
        best = None
        for node in scope:
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                if any(site is n for arg in [*node.args, *(k.value for k in node.keywords)] for n in ast.walk(arg)):
                    if isinstance(node.func.value, ast.Name) and node.func.value.id == "ibis":
                        continue
                    size = src.span(node)[1] - src.span(node)[0]
                    if best is None or size < best[0]:
                        best = (size, node)
        if best is not None:
            schema = _receiver_schema(src, ctx, stmt, best[1].func.value)
            if schema is not None:
                return schema
    return None


def _rename_attribute(src: Source, old: str, new: str, line: int | None) -> str:
    edits = [
        src.replace(node, f"{src.text(node.value)}.{new}")
        for node in src.nodes_on(line)
        if isinstance(node, ast.Attribute) and node.attr == old
    ]
    return src.apply(edits)


def _receiver_class(diag: Diagnosis) -> type:
    cls = getattr(ir, diag.receiver or "", None)
    return cls if isinstance(cls, type) else ir.Value


def _is_called(src: Source, node: ast.AST) -> bool:
    return any(isinstance(n, ast.Call) and n.func is node for n in src.walk())


def fix_renamed_api(src: Source, diag: Diagnosis, ctx: FixContext) -> Iterator[Candidate]:
    """Rename to what ibis suggests, its deprecation note, or the nearest public method."""
    if not diag.name:
        return
    seen = set()
    suggestions = []
    if diag.hint:
        suggestions.append((diag.hint, "the installed Ibis suggests it in its error message"))
    deprecated = deprecated_methods().get(diag.name)
    if deprecated and deprecated.replacement:
        suggestions.append((deprecated.replacement, f"Ibis says: {deprecated.note}"))
    removed = REMOVED_METHODS.get(diag.name)
    if removed:
        suggestions.append((removed, f"{diag.name} was removed from Ibis in favour of {removed}"))
    for name in nearest_method(_receiver_class(diag), diag.name):
        suggestions.append((name, f"it is the closest method of {diag.receiver} in Ibis {ibis.__version__}"))
    authoritative = {n for n, _ in suggestions[: int(bool(diag.hint)) + int(bool(deprecated and deprecated.replacement)) + int(bool(removed))]}
    for name, why in suggestions:
        if name in seen or name == diag.name:
            continue
        seen.add(name)
        # a real pandas name (unique, isna...) is not a typo of a similar Ibis one (nunique)
        safe = name in authoritative or (is_typo(diag.name, name) and not _is_pandas_name(diag.name))
        renamed = _rename_attribute(src, diag.name, name, diag.line)
        explanation = f"{diag.receiver or 'The expression'} has no method {diag.name!r}; use {name!r} ({why})."
        yield Candidate(renamed, "renamed-api", explanation, preserves_meaning=safe)
        flipped = _flip_mapping_arguments(renamed, name, diag.line)
        if flipped:
            yield Candidate(flipped, "renamed-api", explanation + " Its mapping argument runs the other way ({new: old}).",
                            preserves_meaning=safe)


def _flip_mapping_arguments(code: str, method: str, line: int | None) -> str | None:
    """Invert a literal dict passed to ``method`` (relabel({old: new}) → rename({new: old}))."""
    src = Source(code)
    edits = []
    for node in src.nodes_on(line):
        if (
            isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr == method and len(node.args) == 1 and isinstance(node.args[0], ast.Dict)
            and all(k is not None for k in node.args[0].keys)
        ):
            mapping = node.args[0]
            pairs = ", ".join(f"{src.text(v)}: {src.text(k)}" for k, v in zip(mapping.keys, mapping.values))
            edits.append(src.replace(mapping, "{" + pairs + "}"))
    return src.apply(edits) if edits else None


def fix_name_error(src: Source, diag: Diagnosis, ctx: FixContext) -> Iterator[Candidate]:
    """Nearest defined name, or the ibis function of that name (``desc`` → ``ibis.desc``)."""
    wrong = diag.name
    if not wrong:
        return
    sites = [n for n in src.walk() if isinstance(n, ast.Name) and n.id == wrong and isinstance(n.ctx, ast.Load)]
    if not sites:
        return
    pool = sorted(ctx.known_names() | assigned_names(src.tree) | {"ibis", "_"})
    options = [(n, "the closest defined name") for n in difflib.get_close_matches(wrong, pool, n=3, cutoff=0.6)]
    if hasattr(ibis, wrong) and not wrong.startswith("_"):
        options.insert(0, (f"ibis.{wrong}", f"Ibis provides {wrong!r} as ibis.{wrong}"))
    for replacement, why in options:
        code = src.apply(src.replace(site, replacement) for site in sites)
        safe = replacement == f"ibis.{wrong}" or is_typo(wrong, replacement)
        yield Candidate(code, "nearest-name", f"{wrong!r} is not defined; use {replacement!r} ({why}).", preserves_meaning=safe)


def fix_unknown_method(src: Source, diag: Diagnosis, ctx: FixContext) -> Iterator[Candidate]:
    yield from fix_renamed_api(src, diag, ctx)
