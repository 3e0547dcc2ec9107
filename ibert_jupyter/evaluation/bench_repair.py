"""``ibert bench repair``: inject errors into the TPC-H reference queries, repair, compare.

The corpus is built automatically: each mutator walks the AST of the 22 Ibis reference
queries that ship in the ibis wheel and injects one kind of mistake at sites chosen by a
seeded RNG. A mutant counts as *broken* only if the verifier rejects it; it counts as
*fixed* only if ``repair`` returns a verified fix whose full result equals the reference
query's result on the same TPC-H data.
"""

from __future__ import annotations

import argparse
import ast
import json
import random
import statistics
import sys
import time
import warnings
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


def frames_equal(a, b) -> bool:
    """Same columns and values (floats within 1e-6 relative); row order kept if both sorted."""
    import pandas as pd

    if list(a.columns) != list(b.columns) or len(a) != len(b):
        return False
    a, b = a.reset_index(drop=True), b.reset_index(drop=True)
    for attempt in range(2):
        try:
            pd.testing.assert_frame_equal(a, b, check_dtype=False, check_exact=False, rtol=1e-6)
            return True
        except (AssertionError, TypeError, ValueError):
            if attempt == 0:
                try:
                    a = a.sort_values(list(a.columns)).reset_index(drop=True)
                    b = b.sort_values(list(b.columns)).reset_index(drop=True)
                except TypeError:
                    return False
    return False


def _as_frame(value):
    import pandas as pd

    if isinstance(value, pd.DataFrame):
        return value
    if isinstance(value, pd.Series):
        return value.to_frame()
    return pd.DataFrame({"value": [value]})


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print only the JSON result line on stdout")
    parser.add_argument("--scale", type=float, default=0.01, help="TPC-H scale factor (default 0.01)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the mutation sites")
    parser.add_argument("--per-class", type=int, default=None, help="at most this many mutants per class")
    parser.add_argument("--lint", action="store_true", help="also run the Semgrep rules once over the corpus")


def run(args: argparse.Namespace) -> int:
    from ibert_jupyter.data import tpc
    from ibert_jupyter.repair import repair

    warnings.simplefilter("ignore")
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    t0 = time.perf_counter()
    con = tpc.connect("h", scale=args.scale)
    mutants, helpers = build_corpus(con, seed=args.seed, per_class=args.per_class)
    log(f"corpus: {len(mutants)} broken mutants of 22 TPC-H queries in {time.perf_counter() - t0:.1f} s")
    references = {q.number: q for q in tpc.reference_queries("h")}
    expected: dict[int, object] = {}
    per_class: dict[str, dict] = {name: {"broken": 0, "fixed": 0, "verified": 0, "ms": []} for name in MUTATORS}
    failures = []
    for i, mutant in enumerate(mutants, 1):
        query = references[mutant.query]
        tables = {name: con.table(name) for name in query.tables}
        if mutant.query not in expected:
            from ibert_jupyter.verify import verify

            ref = verify(query.code, tables, helpers=helpers)
            expected[mutant.query] = _as_frame(con.execute(ref.expression))
        stats = per_class[mutant.error_class]
        stats["broken"] += 1
        result = repair(mutant.code, tables, helpers=helpers)
        stats["ms"].append(result.elapsed_ms)
        equal = False
        if result.verified:
            stats["verified"] += 1
            equal = frames_equal(_as_frame(con.execute(result.report.expression)), expected[mutant.query])
        stats["fixed"] += int(equal)
        if not equal:
            failures.append({"class": mutant.error_class, "query": mutant.query, "status": result.status,
                             "diagnosis": result.diagnosis.kind if result.diagnosis else None})
        if i % 25 == 0:
            log(f"{i}/{len(mutants)} repaired")
    lint_summary = None
    if args.lint:
        from ibert_jupyter.repair.lint import SemgrepUnavailable, lint_sources

        t_lint = time.perf_counter()
        try:
            findings = lint_sources([m.code for m in mutants])
            lint_summary = {"seconds": round(time.perf_counter() - t_lint, 2),
                            "flagged": {name: sum(1 for m, f in zip(mutants, findings) if f and m.error_class == name) for name in MUTATORS}}
        except SemgrepUnavailable as exc:
            lint_summary = {"error": f"semgrep unavailable: {exc}"}
    classes = {
        name: {"broken": s["broken"], "fixed": s["fixed"], "verified": s["verified"],
               "median_ms": round(statistics.median(s["ms"]), 1) if s["ms"] else None}
        for name, s in per_class.items()
    }
    broken = sum(c["broken"] for c in classes.values())
    fixed = sum(c["fixed"] for c in classes.values())
    for failure in failures[:20]:
        log(f"not fixed: {failure}")
    result = {
        "benchmark": "repair",
        "suite": "tpch",
        "scale": args.scale,
        "seed": args.seed,
        "classes": classes,
        "broken": broken,
        "fixed": fixed,
        "deterministic_fixed_ratio": round(fixed / broken, 4) if broken else 0.0,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    if lint_summary is not None:
        result["lint"] = lint_summary
    print(json.dumps(result))
    return 0
