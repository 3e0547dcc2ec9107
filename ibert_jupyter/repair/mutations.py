"""The mutation engine: inject one kind of mistake into known-good Ibis programs.

Each mutator walks the AST of a reference program and yields mutated codes at sites chosen by a
seeded RNG. ``build_corpus`` applies them to the 22 TPC-H reference queries that ship in the ibis
wheel and keeps only mutants the verifier rejects. Used by ``ibert bench repair`` and by the
training-data builder (contract E).
"""

from __future__ import annotations

import ast
import random
from dataclasses import dataclass
from typing import Callable, Iterator

from ibert_jupyter.repair.source import Source


@dataclass(frozen=True)
class Mutant:
    error_class: str
    query: int
    code: str


def _pick(rng: random.Random, items: list, k: int) -> list:
    return rng.sample(items, min(k, len(items)))


def _typo(rng: random.Random, name: str) -> str:
    """Drop or swap one character after the prefix (l_shipdate → l_shipdte)."""
    start = name.find("_") + 1 or 1
    i = rng.randrange(start, len(name) - 1) if len(name) - 1 > start else start
    if rng.random() < 0.5 and i + 1 < len(name):
        return name[:i] + name[i + 1] + name[i] + name[i + 2 :] if name[i] != name[i + 1] else name[:i] + name[i + 1 :]
    return name[:i] + name[i + 1 :]


def _attributes(src: Source, names: set[str]) -> list[ast.Attribute]:
    return [n for n in src.walk() if isinstance(n, ast.Attribute) and n.attr in names and isinstance(n.ctx, ast.Load)]


def _calls(src: Source, method: str) -> list[ast.Call]:
    return [n for n in src.walk() if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == method]


def _is_method_receiver(src: Source, node: ast.AST) -> bool:
    return any(isinstance(p, ast.Attribute) and p.value is node for p in src.walk())


# Each mutator: (source, column types, query table names, rng) -> mutated codes.
def mutate_wrong_column(src, columns, tables, rng) -> Iterator[str]:
    for node in _pick(rng, _attributes(src, set(columns)), 2):
        yield src.apply([src.replace(node, f"{src.text(node.value)}.{_typo(rng, node.attr)}")])


def mutate_wrong_join_key(src, columns, tables, rng) -> Iterator[str]:
    """``a.l_orderkey == b.o_orderkey`` → ``a.o_orderkey == ...`` (the other table's key name)."""
    sites = []
    for call in _calls(src, "join"):
        for node in ast.walk(call):
            if isinstance(node, ast.Compare) and isinstance(node.ops[0], ast.Eq):
                left, right = node.left, node.comparators[0]
                if isinstance(left, ast.Attribute) and isinstance(right, ast.Attribute) and left.attr != right.attr:
                    sites.append((left, right))
    for left, right in _pick(rng, sites, 2):
        wrong, other = (left, right) if rng.random() < 0.5 else (right, left)
        yield src.apply([src.replace(wrong, f"{src.text(wrong.value)}.{other.attr}")])


def mutate_pandas_groupby(src, columns, tables, rng) -> Iterator[str]:
    calls = _calls(src, "group_by")
    if calls:
        yield src.apply(src.replace(c.func, f"{src.text(c.func.value)}.groupby") for c in calls)


STRING_METHODS = ("like", "substr", "startswith", "endswith", "contains", "upper", "lower", "length")


def mutate_str_accessor(src, columns, tables, rng) -> Iterator[str]:
    calls = [c for m in STRING_METHODS for c in _calls(src, m)]
    for call in _pick(rng, calls, 2):
        yield src.apply([src.replace(call.func, f"{src.text(call.func.value)}.str.{call.func.attr}")])


_ASTYPE_NAMES = {"int64": ['"int64"', "int"], "string": ["str", '"str"'], "float64": ['"float64"', "float"]}


def mutate_astype(src, columns, tables, rng) -> Iterator[str]:
    """Wrap a column in a type-preserving ``astype`` (so the fixed result must stay equal)."""
    sites = [
        n for n in _attributes(src, {c for c, t in columns.items() if t.lstrip("!") in _ASTYPE_NAMES})
        if not _is_method_receiver(src, n)
    ]
    for node in _pick(rng, sites, 2):
        spelling = rng.choice(_ASTYPE_NAMES[columns[node.attr].lstrip("!")])
        yield src.apply([src.replace(node, f"{src.text(node)}.astype({spelling})")])


def mutate_sort_values(src, columns, tables, rng) -> Iterator[str]:
    for call in _pick(rng, _calls(src, "order_by"), 1):
        keys = call.args[0].elts if len(call.args) == 1 and isinstance(call.args[0], ast.List) else list(call.args)
        texts, ascending = [], []
        for key in keys:
            is_desc = isinstance(key, ast.Call) and isinstance(key.func, ast.Attribute) and key.func.attr == "desc"
            texts.append(src.text(key.args[0]) if is_desc else src.text(key))
            ascending.append(not is_desc)
        by = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
        flags = str(ascending[0]) if len(set(ascending)) == 1 else "[" + ", ".join(map(str, ascending)) + "]"
        extra = "" if all(ascending) else f", ascending={flags}"
        yield src.apply([src.replace(call, f"{src.text(call.func.value)}.sort_values(by={by}{extra})")])


def mutate_stale_relation(src, columns, tables, rng) -> Iterator[str]:
    """Refer to a base table where the relation being queried is meant.

    ``lambda t: t.count()`` / ``_.col`` / ``q.col`` inside a call on a derived relation become
    ``orders.count()`` / ``orders.col``; only mutants Ibis rejects are kept by the corpus.
    """
    owner = {}
    for table, cols in tables.items():
        for col in cols:
            owner.setdefault(col, table)
    first_table = next(iter(tables))
    edits = []
    for n in _attributes(src, set(owner)):
        if isinstance(n.value, ast.Name) and n.value.id not in tables and owner[n.attr] in tables:
            edits.append(src.replace(n.value, owner[n.attr]))
    for node in src.walk():
        if isinstance(node, ast.Lambda) and len(node.args.args) == 1:
            param = node.args.args[0].arg
            body = Source(src.text(node.body))
            inner = body.apply(body.replace(x, first_table) for x in body.walk() if isinstance(x, ast.Name) and x.id == param)
            edits.append(src.replace(node, inner))
    rng.shuffle(edits)
    for edit in edits:
        yield src.apply([edit])


def mutate_type_mix(src, columns, tables, rng) -> Iterator[str]:
    """A number written as a string, inline or in the constant it is compared through."""
    sites = []
    for node in src.walk():
        if isinstance(node, ast.Compare):
            for side in (node.left, *node.comparators):
                if isinstance(side, ast.Constant) and type(side.value) in (int, float):
                    sites.append(side)
    numeric_constants = {
        stmt.targets[0].id: stmt.value
        for stmt in src.tree.body
        if isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name)
        and isinstance(stmt.value, ast.Constant) and type(stmt.value.value) in (int, float)
    }
    compared = {
        side.id for node in src.walk() if isinstance(node, ast.Compare)
        for side in (node.left, *node.comparators) if isinstance(side, ast.Name)
    }
    sites += [value for name, value in numeric_constants.items() if name in compared]
    for node in _pick(rng, sites, 2):
        yield src.apply([src.replace(node, repr(str(node.value)))])


def mutate_name_typo(src, columns, tables, rng) -> Iterator[str]:
    sites = [n for n in src.walk() if isinstance(n, ast.Name) and n.id in tables and isinstance(n.ctx, ast.Load)]
    for node in _pick(rng, sites, 1):
        yield src.apply([src.replace(node, _typo(rng, node.id) if len(node.id) > 4 else node.id + "s")])


def mutate_pandas_merge(src, columns, tables, rng) -> Iterator[str]:
    """``a.join(b, a.x == b.y)`` → ``a.merge(b, left_on="x", right_on="y")``."""
    sites = []
    for call in _calls(src, "join"):
        if len(call.args) == 2 and isinstance(call.args[0], ast.Name) and not call.keywords:
            pred = call.args[1]
            if isinstance(pred, ast.Compare) and isinstance(pred.ops[0], ast.Eq):
                left, right = pred.left, pred.comparators[0]
                if all(isinstance(s, ast.Attribute) and isinstance(s.value, ast.Name) for s in (left, right)):
                    if left.value.id == call.args[0].id:
                        left, right = right, left
                    if right.value.id == call.args[0].id:
                        sites.append((call, left.attr, right.attr))
    for call, lk, rk in _pick(rng, sites, 1):
        other = src.text(call.args[0])
        yield src.apply([src.replace(call, f"{src.text(call.func.value)}.merge({other}, left_on={lk!r}, right_on={rk!r})")])


MAX_PER_QUERY = 3
MUTATORS: dict[str, Callable] = {
    "wrong_column": mutate_wrong_column,
    "wrong_join_key": mutate_wrong_join_key,
    "pandas_groupby": mutate_pandas_groupby,
    "str_accessor": mutate_str_accessor,
    "astype": mutate_astype,
    "sort_values": mutate_sort_values,
    "stale_relation": mutate_stale_relation,
    "type_mix": mutate_type_mix,
    "name_typo": mutate_name_typo,
    "pandas_merge": mutate_pandas_merge,
}


def build_corpus(con, seed: int = 0, per_class: int | None = None) -> tuple[list[Mutant], dict]:
    """Mutants of every reference query that really fail verification."""
    from ibert_jupyter.data import tpc
    from ibert_jupyter.verify import verify

    helpers = tpc.reference_helpers()
    schemas = {name: dict((c, str(t)) for c, t in con.table(name).schema().items()) for name in con.list_tables()}
    columns = {c: t for cols in schemas.values() for c, t in cols.items()}
    mutants: list[Mutant] = []
    for query in tpc.reference_queries("h"):
        src = Source(query.code)
        tables = {name: con.table(name) for name in query.tables}
        query_schemas = {name: schemas[name] for name in query.tables}
        for error_class, mutator in MUTATORS.items():
            rng = random.Random(f"{seed}-{query.number}-{error_class}")
            kept = 0
            for code in dict.fromkeys(mutator(src, columns, query_schemas, rng)):
                if kept < MAX_PER_QUERY and code != query.code and not verify(code, tables, helpers=helpers).ok:
                    mutants.append(Mutant(error_class, query.number, code))
                    kept += 1
    if per_class:
        kept, counts = [], {}
        for m in mutants:
            if counts.get(m.error_class, 0) < per_class:
                counts[m.error_class] = counts.get(m.error_class, 0) + 1
                kept.append(m)
        mutants = kept
    return mutants, helpers
