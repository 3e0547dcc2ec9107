"""Repair pairs: real mistakes injected into verified programs, kept only when they really fail.

Mistakes come from the repair package's mutation engine (pandas idioms, wrong columns and join
keys, relation errors, type mixes, name typos — contract E) plus APIs that older Ibis spelled
differently, and pairs of two mistakes in one cell. A pair is kept only when the broken cell
fails the verifier *and* raises a real exception when run, whose traceback is recorded; the
fixed cell is the verified program itself.
"""

from __future__ import annotations

import random
import re
import sys
import traceback
from dataclasses import dataclass
from typing import Iterator, Mapping

import ibis
import ibis.expr.types as ir

from ibert_jupyter.repair.diagnosis import Diagnosis, classify
from ibert_jupyter.repair.mutations import MUTATORS
from ibert_jupyter.repair.source import Source
from ibert_jupyter.verify import verify

# Ibis names whose older spellings people still type (new -> old); a mutant is kept only if
# the installed Ibis really rejects the old one.
OLD_SPELLINGS = {
    "order_by": "sort_by", "fill_null": "fillna", "rename": "relabel", "cases": "case",
    "day_of_week": "dayofweek", "ifelse": "where", "nunique": "approx_distinct", "group_by": "groupby",
    "value_counts": "count_values", "cumsum": "cumulative_sum", "truncate": "trunc", "notnull": "notna",
    "isnull": "isna", "length": "len",
}

EXPLANATIONS = {
    "wrong_column": "I corrected the misspelled column name to one that exists in the table.",
    "wrong_join_key": "I used each table's own key column in the join condition.",
    "pandas_groupby": "Ibis groups with `group_by(...)` followed by `.agg(...)`, not pandas' `groupby`.",
    "str_accessor": "Ibis string columns have no `.str` accessor; I call the string method directly.",
    "astype": "Ibis converts types with `.cast(...)`; the `astype` call was not needed here, so I removed it.",
    "sort_values": "Ibis sorts with `order_by(...)` (descending keys wrapped in `ibis.desc`), not `sort_values`.",
    "stale_relation": "I referred to the relation being queried instead of a different table.",
    "type_mix": "I compared the number with a number, not with a string.",
    "name_typo": "I fixed the misspelled table variable.",
    "pandas_merge": "Ibis joins with `.join(other, predicate)`, not pandas' `merge`.",
    "renamed_api": "I used the name the installed Ibis provides instead of an old spelling.",
}


@dataclass(frozen=True)
class RepairPair:
    kind: str  # mutation class, or "a+b" for two mistakes
    broken: str
    fixed: str
    error_type: str
    message: str
    traceback: str
    diagnosis: Diagnosis | None

    @property
    def explanation(self) -> str:
        return " ".join(EXPLANATIONS.get(k, "I fixed the mistake.") for k in self.kind.split("+"))


def mutate_renamed_api(src: Source, columns, tables, rng: random.Random) -> Iterator[str]:
    sites = [n for n in src.walk() if hasattr(n, "attr") and n.attr in OLD_SPELLINGS]
    sites += [n for n in src.walk() if hasattr(n, "id") and getattr(n, "id", "") == "ibis" and False]
    for node in rng.sample(sites, min(1, len(sites))):
        yield src.apply([src.replace(node, f"{src.text(node.value)}.{OLD_SPELLINGS[node.attr]}")])


ALL_MUTATORS = {**MUTATORS, "renamed_api": mutate_renamed_api}
COMMON = frozenset({"name_typo", "wrong_column"})
_SITE = re.compile(r'File "[^"]*/site-packages/')


def real_traceback(code: str, tables: Mapping[str, ir.Table]) -> tuple[str, str, str] | None:
    """Run ``code`` as a notebook cell would; (type, message, traceback text) if it raises."""
    namespace = {"ibis": ibis, "_": ibis._, **tables}
    try:
        exec(compile(code, "<ipython-input-1>", "exec"), namespace)  # noqa: S102 - our own mutant
    except Exception as exc:  # noqa: BLE001 - the failure is the point
        lines = traceback.format_exception(type(exc), exc, exc.__traceback__.tb_next)  # from the cell's frame on
        text = "".join(lines)
        text = _SITE.sub('File ".../site-packages/', text).replace(sys.prefix, "...")
        return type(exc).__name__, str(exc).strip().splitlines()[0][:300] if str(exc).strip() else "", text.strip()[-1500:]
    return None


def pairs(code: str, tables: Mapping[str, ir.Table], rng: random.Random, rejections, limit: int = 2) -> list[RepairPair]:
    """Up to ``limit`` repair pairs for verified ``code`` (rejections counted under ``repair:*``)."""
    columns = {c: str(t) for table in tables.values() for c, t in table.schema().items()}
    table_columns = {name: list(t.columns) for name, t in tables.items()}
    src = Source(code)
    # random order, but the mistakes that apply to almost every program (typos) usually last,
    # so the rarer kinds (pandas idioms, relations, types, old APIs) get their share
    names = sorted(ALL_MUTATORS, key=lambda k: rng.random() + (0.7 if k in COMMON else 0.0))
    found: list[RepairPair] = []
    for kind in names:
        if len(found) >= limit:
            break
        try:
            mutants = list(ALL_MUTATORS[kind](src, columns, table_columns, rng))
        except Exception:  # noqa: BLE001 - a mutator that cannot handle this program
            rejections.add("repair", f"{kind}: mutator failed")
            continue
        for broken in mutants[:1]:
            if rng.random() < 0.15:  # two mistakes in one cell
                second = [k for k in names if k != kind]
                for other in second[:3]:
                    try:
                        more = list(ALL_MUTATORS[other](Source(broken), columns, table_columns, rng))
                    except Exception:  # noqa: BLE001
                        continue
                    if more and more[0] != broken:
                        broken, kind = more[0], f"{kind}+{other}"
                        break
            made = _check(kind, broken, code, tables, rejections)
            if made:
                found.append(made)
    return found


def _check(kind: str, broken: str, fixed: str, tables, rejections) -> RepairPair | None:
    if broken.strip() == fixed.strip():
        rejections.add("repair", "mutant identical")
        return None
    report = verify(broken, tables)
    if report.ok:
        rejections.add("repair", "mutant still verifies")
        return None
    raised = real_traceback(broken, tables)
    if raised is None:
        rejections.add("repair", "mutant raises nothing when run")
        return None
    error_type, message, text = raised
    try:
        diagnosis = classify(error_type, message, report.line)
    except Exception:  # noqa: BLE001 - the diagnosis is optional context
        diagnosis = None
    return RepairPair(kind, broken, fixed, error_type, message, text, diagnosis)
