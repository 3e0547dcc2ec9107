"""Repair a failing Ibis cell: a search over typed edits, one error at a time, every step verified.

Each state is a version of the cell and the verifier's report on it. The report's error is
classified, every rule that applies proposes edits (drawn from the installed Ibis: method
tables, signatures, deprecations, the pandas→Ibis idiom records, the tables' relationships),
and the candidates enter one priority queue ordered by risk (a meaning-changing edit costs far
more than any meaning-preserving chain), then depth and edit size. A candidate that fails
*differently* is a new state (a cell can hold several mistakes), up to ``max_steps`` edits.

The first candidate that runs wins. It is *verified* only if every edit on its path kept the
meaning; otherwise it "runs — check that this is what you meant" and carries preview rows.
Candidates are checked in the namespace where they will run (``provided``), so a fix that
uses ``_`` in a notebook that never imported it fails here, not after it is applied.
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import heapq
import itertools
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import AbstractSet, Any, Callable, Iterator, Mapping

import ibis.expr.types as ir

from ibert_jupyter.repair import diagnosis as kinds
from ibert_jupyter.repair.candidate import Candidate
from ibert_jupyter.repair.diagnosis import Diagnosis, classify
from ibert_jupyter.repair.fixcontext import FixContext
from ibert_jupyter.repair.fixes_names import (
    fix_name_error,
    fix_renamed_api,
    fix_unknown_column,
    fix_unknown_method,
)
from ibert_jupyter.repair.fixes_pandas import fix_pandas_idiom
from ibert_jupyter.repair.fixes_structure import (
    fix_backend_error,
    fix_relation_integrity,
    fix_signature,
    fix_syntax,
    fix_type_mismatch,
)
from ibert_jupyter.repair.namespace_check import add_missing_imports, verify_in_namespace
from ibert_jupyter.repair.prepare import prepare
from ibert_jupyter.repair.rules import GENERAL_RULES, fix_assignment_for_comparison
from ibert_jupyter.repair.source import Source
from ibert_jupyter.verify import VerificationReport
from ibert_jupyter.verify.verifier import CANDIDATE_FILENAME

Fixer = Callable[[Source, Diagnosis, FixContext], Iterator[Candidate]]

# kind -> fixers for that kind; GENERAL_RULES (rules.py) run for every kind after these.
FIXERS: dict[str, tuple[Fixer, ...]] = {
    kinds.UNKNOWN_COLUMN: (fix_unknown_column,),
    kinds.UNKNOWN_METHOD: (fix_unknown_method,),
    kinds.PANDAS_IDIOM: (fix_pandas_idiom, fix_renamed_api, fix_signature),
    kinds.RENAMED_API: (fix_renamed_api,),
    kinds.RELATION_INTEGRITY: (fix_relation_integrity,),
    kinds.SIGNATURE: (fix_signature, fix_pandas_idiom, fix_type_mismatch),
    kinds.TYPE_MISMATCH: (fix_type_mismatch, fix_unknown_column),
    kinds.NAME_ERROR: (fix_name_error,),
    kinds.BACKEND_ERROR: (fix_backend_error,),
}

DEFAULT_MAX_VERIFICATIONS = 40
DEFAULT_MAX_STEPS = 3
RISK_COST = 100.0  # one meaning-changing edit costs more than any chain of safe ones


class Confidence(StrEnum):
    VERIFIED = "verified"  # runs, and every edit kept the meaning
    CHECK = "check"  # runs — check that this is what you meant


class RepairStatus(StrEnum):
    """How a repair ended (the values are what JSON and the notebook panels show)."""

    FIXED = "fixed"  # a rule chain that keeps the meaning made it run
    CHECK = "check"  # it runs, but an edit changed the meaning
    ALREADY_OK = "already-ok"  # it runs as it is
    UNFIXED = "unfixed"
    MODEL_FIXED = "model-fixed"  # the model's answer runs; a guess, never verified


@dataclass(frozen=True)
class Attempt:
    candidate: Candidate
    ok: bool
    summary: str


@dataclass(frozen=True)
class RepairResult:
    """Everything the notebook shows about one repair; a value: later stages copy it
    (``dataclasses.replace``, ``with_note``) rather than edit it."""

    original: str
    diagnosis: Diagnosis | None
    status: RepairStatus
    fixed_code: str | None = None
    steps: tuple[Candidate, ...] = ()
    report: VerificationReport | None = None
    attempts: tuple[Attempt, ...] = ()
    elapsed_ms: float = 0.0
    notes: tuple[str, ...] = ()
    tables_used: tuple[str, ...] = ()

    def with_note(self, note: str) -> RepairResult:
        return dataclasses.replace(self, notes=(*self.notes, note))

    @property
    def runs(self) -> bool:
        """The proposed fix built, type-checked and previewed in the user's namespace."""
        return self.report is not None and self.report.ok and self.fixed_code is not None

    @property
    def verified(self) -> bool:
        """Runs, and every edit kept the meaning (a model's answer is never verified)."""
        return self.runs and self.status == RepairStatus.FIXED and all(s.preserves_meaning for s in self.steps)

    @property
    def confidence(self) -> Confidence | None:
        if not self.runs:
            return None
        return Confidence.VERIFIED if self.verified else Confidence.CHECK

    @property
    def sql(self) -> str | None:
        return self.report.sql if self.runs else None

    def diff(self) -> str:
        if self.fixed_code is None:
            return ""
        return "".join(
            difflib.unified_diff(
                self.original.splitlines(keepends=True),
                _ensure_newline(self.fixed_code).splitlines(keepends=True),
                "cell (failing)", "cell (fixed)",
            )
        )

    def failed_attempts(self) -> list[Attempt]:
        return [a for a in self.attempts if not a.ok]

    def explanation(self) -> str:
        """One paragraph: what was wrong, what changed, and how sure we are."""
        parts = []
        headline = self.diagnosis.headline() if self.diagnosis is not None else None
        if self.diagnosis is not None:
            parts.append(f"{headline} ({self.diagnosis.error_type}: {clip(self.diagnosis.message)}).")
        parts += [text for text in (_without_headline(step.explanation, headline) for step in self.steps) if text]
        if self.status == RepairStatus.ALREADY_OK:
            parts.append("The cell builds and runs in the verifier as it is now, in this notebook's namespace; "
                         "the error may come from state that has since changed.")
        elif self.verified:
            parts.append(f"Verified: the fixed cell was re-run against {', '.join(self.tables_used) or 'its tables'} "
                         "and every edit keeps the cell's meaning.")
        elif self.runs:
            parts.append("It runs — check that this is what you meant: at least one edit changes what the cell "
                         "computes (see the preview rows).")
        else:
            tried = len(self.attempts)
            parts.append("No rule produced a fix that runs" + (f" ({_count(tried, 'attempt')} tried)." if tried else "."))
        parts += self.notes
        return " ".join(parts)


def _without_headline(text: str, headline: str | None) -> str:
    """A step's explanation minus the diagnosis it repeats ("X has no method 'summ'; use 'sum'" -> "Use 'sum'")."""
    if not headline or not text.startswith(headline):
        return text
    rest = text[len(headline):].lstrip(" ;:,.")
    return rest[:1].upper() + rest[1:]


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _ensure_newline(text: str) -> str:
    return text if text.endswith("\n") else text + "\n"


def clip(text: str, limit: int = 200) -> str:
    """One line of at most ``limit`` characters, without the verifier's internal file name."""
    text = " ".join((text or "").replace(f'File "{CANDIDATE_FILENAME}", ', "").replace(CANDIDATE_FILENAME, "cell").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _is_called(code: str, name: str | None) -> bool:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return False
    return any(isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == name for n in ast.walk(tree))


def diagnose(report: VerificationReport, code: str = "") -> Diagnosis:
    diag = classify(report.error_type or "Error", report.message or "", report.line)
    if diag.kind == kinds.UNKNOWN_COLUMN and diag.name and code and _is_called(code, diag.name):
        # t.relabel(...) is a method call, not a column: say so, and look among methods.
        diag = dataclasses.replace(diag, kind=kinds.UNKNOWN_METHOD)
    return diag


def candidates_for(code: str, diag: Diagnosis, ctx: FixContext) -> Iterator[Candidate]:
    """Every deterministic candidate for ``diag`` on ``code``, without duplicates."""
    seen = {code}
    if diag.kind == kinds.SYNTAX_ERROR:
        produced: Iterator[Candidate] = itertools.chain(fix_assignment_for_comparison(code, diag), fix_syntax(code, diag))
    else:
        try:
            src = Source(code)
        except SyntaxError:
            return
        produced = itertools.chain(
            (c for fixer in FIXERS.get(diag.kind, ()) for c in fixer(src, diag, ctx)),
            (c for rule in GENERAL_RULES for c in rule(src, diag, ctx)),
        )
    collected: dict[str, Candidate] = {}
    while True:
        try:
            candidate = next(produced)
        except StopIteration:
            break
        except Exception:  # noqa: BLE001 - one broken rule must not stop the others
            continue
        code = add_missing_imports(candidate.code, ctx.provided)
        if code != candidate.code:  # the fix uses `_`/`ibis`, which this notebook never imported
            added = code[: len(code) - len(candidate.code)].strip().replace("\n", "; ")
            candidate = dataclasses.replace(candidate, code=code, explanation=f"{candidate.explanation} `{added}` was added: this notebook does not import it.")
        if candidate.code in seen:
            continue
        earlier = collected.get(candidate.code)
        # the same edit proposed by two rules: keep the one that knows it keeps the meaning
        if earlier is None or (candidate.preserves_meaning and not earlier.preserves_meaning):
            collected[candidate.code] = candidate
    yield from collected.values()


def edit_size(before: str, after: str) -> int:
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    return sum(max(i2 - i1, j2 - j1) for tag, i1, i2, j1, j2 in matcher.get_opcodes() if tag != "equal")


def _progress_key(report: VerificationReport) -> tuple:
    return (report.error_type, report.message, report.line)


def tables_in(code: str, tables: Mapping[str, Any]) -> tuple[str, ...]:
    """The table variables the cell itself reads (for "verified against")."""
    try:
        used = {n.id for n in ast.walk(ast.parse(code)) if isinstance(n, ast.Name)}
    except SyntaxError:
        used = {name for name in tables if name in code}
    return tuple(name for name in tables if name in used)


def repair(
    code: str,
    tables: Mapping[str, ir.Table],
    *,
    helpers: Mapping[str, Any] | None = None,
    error: tuple[str, str, int | None] | None = None,
    preview: bool = True,
    max_verifications: int = DEFAULT_MAX_VERIFICATIONS,
    max_steps: int = DEFAULT_MAX_STEPS,
    provided: AbstractSet[str] | None = None,
) -> RepairResult:
    """Find a fix for ``code``; ``error`` is the live (type, message, line) if known.

    ``provided``: the Ibis names the user's namespace binds (``context.namespace.ibis_names``);
    None keeps the verifier's defaults. Never raises for problems in ``code``; a bad
    argument raises ValueError naming it.
    """
    if not isinstance(code, str) or not code.strip():
        raise ValueError("repair() needs the failing cell's code as a non-empty string")
    if max_steps < 1:
        raise ValueError("max_steps must be at least 1")
    start = time.perf_counter()
    prepared = prepare(code)
    ctx = FixContext(tables=tables, helpers=dict(helpers or {}), provided=provided)

    def check(candidate_code: str) -> VerificationReport:
        return verify_in_namespace(candidate_code, tables, provided=provided, helpers=ctx.helpers, preview=preview)

    used = tables_in(code, tables)
    first = check(prepared.code)
    if first.ok:
        diag = classify(*error) if error else None
        return RepairResult(code, diag, RepairStatus.ALREADY_OK, report=first, tables_used=used,
                            elapsed_ms=(time.perf_counter() - start) * 1e3)

    diag = diagnose(first, prepared.code)
    attempts: list[Attempt] = []
    found: dict[str, Any] = {"status": RepairStatus.UNFIXED}
    counter = itertools.count()
    queue: list[tuple[float, int, Candidate, tuple[Candidate, ...]]] = []
    seen_errors = {_progress_key(first)}

    def expand(state_code: str, report: VerificationReport, path: tuple[Candidate, ...], cost: float) -> None:
        if len(path) >= max_steps:
            return
        for rank, candidate in enumerate(candidates_for(state_code, diagnose(report, state_code), ctx)):
            # risk first; then the rules' own ranking (best first), then the smaller edit
            step_cost = (0.0 if candidate.preserves_meaning else RISK_COST) + 1.0 + rank / 20 + edit_size(state_code, candidate.code) / 100
            heapq.heappush(queue, (cost + step_cost, next(counter), candidate, path))

    expand(prepared.code, first, (), 0.0)
    budget = max_verifications
    while queue and budget > 0:
        cost, _, candidate, path = heapq.heappop(queue)
        budget -= 1
        report = check(candidate.code)
        attempts.append(Attempt(candidate, report.ok, report.summary()))
        steps = (*path, candidate)
        if report.ok:
            status = RepairStatus.FIXED if all(s.preserves_meaning for s in steps) else RepairStatus.CHECK
            found = {"status": status, "steps": steps, "fixed_code": prepared.restore(candidate.code), "report": report}
            break
        key = _progress_key(report)
        if key not in seen_errors:
            seen_errors.add(key)
            expand(candidate.code, report, steps, cost)
    return RepairResult(code, diag, attempts=tuple(attempts), tables_used=used,
                        elapsed_ms=(time.perf_counter() - start) * 1e3, **found)
