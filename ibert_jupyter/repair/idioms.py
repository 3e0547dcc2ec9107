"""pandas and older-Ibis idioms, one record each: what it looks like, its Ibis spelling, why.

A record matches a call in the failing statement (``match``), rewrites it (``rewrite``) and
explains itself; ``preserves_meaning`` says whether the rewrite computes exactly what the
user wrote (an idiom) or only something close (then the fix is never shown as verified).
``lint_id`` names the Semgrep rule that flags the same idiom before it fails, where one exists.
The older ``fixes_pandas.IDIOMS`` table (accessors, sort_values, merge, loc/iloc…) is driven by
the attribute error's name; these records cover idioms that fail in other ways.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Callable, Iterator

from ibert_jupyter.repair.candidate import Candidate
from ibert_jupyter.repair.diagnosis import Diagnosis
from ibert_jupyter.repair.fixcontext import FixContext
from ibert_jupyter.repair.namespace_check import add_missing_imports
from ibert_jupyter.repair.source import Source, parenthesize


@dataclass(frozen=True)
class Idiom:
    name: str
    written: str  # what the user wrote
    ibis: str  # the Ibis spelling
    explanation: str
    match: Callable[[ast.Call], bool]
    rewrite: Callable[[Source, ast.Call], str | None]
    mentions: tuple[str, ...]  # an error mentioning one of these names can come from this idiom
    preserves_meaning: bool = True
    lint_id: str | None = None


def _method(name: str, nargs: int | None = None) -> Callable[[ast.Call], bool]:
    def match(call: ast.Call) -> bool:
        return (
            isinstance(call.func, ast.Attribute) and call.func.attr == name
            and (nargs is None or len(call.args) == nargs)
        )
    return match


def _ibis_function(name: str) -> Callable[[ast.Call], bool]:
    def match(call: ast.Call) -> bool:
        f = call.func
        return isinstance(f, ast.Attribute) and f.attr == name and isinstance(f.value, ast.Name) and f.value.id == "ibis"
    return match


def _replace_mapping(src: Source, call: ast.Call) -> str | None:
    if len(call.args) != 1 or not isinstance(call.args[0], ast.Dict) or call.keywords:
        return None
    return f"{src.text(call.func.value)}.substitute({src.text(call.args[0])})"


def _case_chain(src: Source, call: ast.Call) -> str | None:
    """``ibis.case().when(c, r)....else_(e).end()`` → ``ibis.cases((c, r), ..., else_=e)``."""
    node: ast.AST = call
    if not (isinstance(call.func, ast.Attribute) and call.func.attr == "end" and not call.args):
        return None
    branches, default = [], None
    node = call.func.value
    while isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        attr = node.func.attr
        if attr == "else_" and len(node.args) == 1:
            default = src.text(node.args[0])
        elif attr == "when" and len(node.args) == 2:
            branches.append(f"({src.text(node.args[0])}, {src.text(node.args[1])})")
        elif attr == "case" and isinstance(node.func.value, ast.Name) and node.func.value.id == "ibis" and not node.args:
            break
        else:
            return None
        node = node.func.value
    else:
        return None
    if not branches:
        return None
    args = list(reversed(branches)) + ([f"else_={default}"] if default is not None else [])
    return f"ibis.cases({', '.join(args)})"


def _where(src: Source, call: ast.Call) -> str | None:
    if len(call.args) != 3:
        return None
    return f"ibis.ifelse({', '.join(src.text(a) for a in call.args)})"


def _shift(src: Source, call: ast.Call) -> str | None:
    if call.keywords or len(call.args) > 1:
        return None
    owner = src.text(call.func.value)
    if not call.args:
        return f"{owner}.lag()"
    arg = call.args[0]
    if isinstance(arg, ast.UnaryOp) and isinstance(arg.op, ast.USub) and isinstance(arg.operand, ast.Constant):
        return f"{owner}.lead({src.text(arg.operand)})"
    if isinstance(arg, ast.Constant) and isinstance(arg.value, int):
        return f"{owner}.lag({arg.value})" if arg.value >= 0 else f"{owner}.lead({-arg.value})"
    return f"{owner}.lag({src.text(arg)})"


def _count_distinct(src: Source, call: ast.Call) -> str | None:
    distinct = next((k for k in call.keywords if k.arg == "distinct"), None)
    if distinct is None or call.args or not (isinstance(distinct.value, ast.Constant) and distinct.value.value is True):
        return None
    return f"{src.text(call.func.value)}.nunique()"


def _unique(src: Source, call: ast.Call) -> str | None:
    owner = call.func.value
    if call.args or call.keywords or not isinstance(owner, ast.Attribute):
        return None
    return f"{parenthesize(src.text(owner.value))}.select({owner.attr!r}).distinct()"


def _when_missing(name: str):
    return (name,)


IDIOMS: tuple[Idiom, ...] = (
    Idiom("replace-mapping", "col.replace({old: new})", "col.substitute({old: new})",
          "pandas' replace({old: new}) maps values; in Ibis that is substitute(...) (its replace() replaces substrings).",
          _method("replace", 1), _replace_mapping, ("replace", "replacement")),
    Idiom("case-chain", "ibis.case().when(c, r).else_(e).end()", "ibis.cases((c, r), else_=e)",
          "The ibis.case() builder was removed from Ibis; ibis.cases((condition, result), ..., else_=default) is its replacement.",
          _method("end", 0), _case_chain, ("case",)),
    Idiom("where-ifelse", "ibis.where(c, a, b)", "ibis.ifelse(c, a, b)",
          "ibis.where was removed from Ibis; ibis.ifelse(condition, true_value, false_value) is the same function.",
          _ibis_function("where"), _where, ("where",)),
    Idiom("shift-lag", "col.shift(n)", "col.lag(n) / col.lead(-n)",
          "pandas shift(n) looks n rows back (forward when negative); Ibis spells those lag(n) and lead(n).",
          _method("shift"), _shift, ("shift",)),
    Idiom("count-distinct", "col.count(distinct=True)", "col.nunique()",
          "Ibis counts distinct values with nunique(); count() has no distinct argument.",
          _method("count"), _count_distinct, ("distinct",)),
    Idiom("unique-values", "t.col.unique()", "t.select('col').distinct()",
          "Ibis has no unique() on a column; the distinct values of a column are select('col').distinct().",
          _method("unique"), _unique, ("unique",)),
)


def fix_idioms(src: Source, diag: Diagnosis, ctx: FixContext) -> Iterator[Candidate]:
    """Each idiom record whose pattern occurs in the failing statement and whose name the error mentions."""
    message = f"{diag.message} {diag.name or ''}"
    for idiom in IDIOMS:
        if not any(m in message for m in idiom.mentions):
            continue
        edits = []
        for scope in (diag.line, None):
            edits = []
            for node in src.nodes_on(scope):
                if isinstance(node, ast.Call) and idiom.match(node):
                    text = idiom.rewrite(src, node)
                    if text is not None:
                        edits.append(src.replace(node, text))
            if edits:
                break
        if edits:
            yield Candidate(add_missing_imports(src.apply(edits), ctx.provided), f"idiom:{idiom.name}",
                            idiom.explanation, preserves_meaning=idiom.preserves_meaning)
