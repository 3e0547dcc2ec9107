"""Repair a failing Ibis cell: classify, propose deterministic fixes, verify every one.

A fix is offered as *verified* only when the fixed cell went through the verifier
(build → type-check → SQL → preview) against the user's live tables. A candidate that gets
further but fails differently is repaired again (a cell can hold more than one mistake),
within a budget of verifier runs.
"""

from __future__ import annotations

import difflib
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping

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
from ibert_jupyter.repair.prepare import prepare
from ibert_jupyter.repair.source import Source
from ibert_jupyter.verify import VerificationReport, verify

Fixer = Callable[[Source, Diagnosis, FixContext], Iterator[Candidate]]

# kind -> fixers tried in order; the first candidate that verifies wins.
FIXERS: dict[str, tuple[Fixer, ...]] = {
    kinds.UNKNOWN_COLUMN: (fix_unknown_column,),
    kinds.UNKNOWN_METHOD: (fix_unknown_method,),
    kinds.PANDAS_IDIOM: (fix_pandas_idiom, fix_renamed_api),
    kinds.RENAMED_API: (fix_renamed_api,),
    kinds.RELATION_INTEGRITY: (fix_relation_integrity,),
    kinds.SIGNATURE: (fix_signature, fix_pandas_idiom),
    kinds.TYPE_MISMATCH: (fix_type_mismatch, fix_unknown_column),
    kinds.NAME_ERROR: (fix_name_error,),
    kinds.BACKEND_ERROR: (fix_backend_error,),
}

DEFAULT_MAX_VERIFICATIONS = 24
MAX_DEPTH = 3


@dataclass(frozen=True)
class Attempt:
    candidate: Candidate
    ok: bool
    summary: str


@dataclass
class RepairResult:
    """Everything the notebook shows about one repair."""

    original: str
    diagnosis: Diagnosis | None
    status: str  # "fixed" | "already-ok" | "unfixed" | "model-fixed"
    fixed_code: str | None = None
    steps: list[Candidate] = field(default_factory=list)
    report: VerificationReport | None = None
    attempts: list[Attempt] = field(default_factory=list)
    elapsed_ms: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def verified(self) -> bool:
        return self.report is not None and self.report.ok and self.fixed_code is not None

    @property
    def sql(self) -> str | None:
        return self.report.sql if self.verified else None

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

    def explanation(self) -> str:
        """One paragraph: what was wrong, what changed, and what it was verified against."""
        parts = []
        if self.diagnosis is not None:
            parts.append(f"{self.diagnosis.headline()} ({self.diagnosis.error_type}: {_clip(self.diagnosis.message)}).")
        parts += [step.explanation for step in self.steps]
        if self.status == "already-ok":
            parts.append("The cell builds and runs in the verifier as it is now; the error may come from state that has since changed.")
        elif self.verified:
            parts.append(f"The fixed cell was re-run in the verifier: {self.report.summary()}.")
        else:
            parts.append(f"No deterministic fix verified ({len(self.attempts)} candidates tried).")
        parts += self.notes
        return " ".join(parts)


def _ensure_newline(text: str) -> str:
    return text if text.endswith("\n") else text + "\n"


def _clip(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _diagnose(report: VerificationReport) -> Diagnosis:
    error_type = report.error_type or "Error"
    if report.stage == "sandbox" and error_type == "SandboxError":
        return classify("SandboxError", report.message or "", report.line)
    return classify(error_type, report.message or "", report.line)


def candidates_for(code: str, diag: Diagnosis, ctx: FixContext) -> Iterator[Candidate]:
    """Every deterministic candidate for ``diag`` on ``code``, best first, without duplicates."""
    seen = {code}
    if diag.kind == kinds.SYNTAX_ERROR:
        produced: Iterator[Candidate] = fix_syntax(code, diag)
    else:
        try:
            src = Source(code)
        except SyntaxError:
            return
        produced = (c for fixer in FIXERS.get(diag.kind, ()) for c in fixer(src, diag, ctx))
    for candidate in produced:
        if candidate.code not in seen:
            seen.add(candidate.code)
            yield candidate


def _progress_key(report: VerificationReport) -> tuple:
    return (report.error_type, report.message, report.line)


def repair(
    code: str,
    tables: Mapping[str, ir.Table],
    *,
    helpers: Mapping[str, Any] | None = None,
    error: tuple[str, str, int | None] | None = None,
    preview: bool = True,
    max_verifications: int = DEFAULT_MAX_VERIFICATIONS,
) -> RepairResult:
    """Find a verified fix for ``code``; ``error`` is the live (type, message, line) if known.

    Never raises for problems in ``code``; a bad argument raises ValueError naming it.
    """
    if not isinstance(code, str) or not code.strip():
        raise ValueError("repair() needs the failing cell's code as a non-empty string")
    start = time.perf_counter()
    prepared = prepare(code)
    ctx = FixContext(tables=tables, helpers=dict(helpers or {}))
    first = verify(prepared.code, tables, helpers=ctx.helpers, preview=preview)
    if first.ok:
        diag = classify(*error) if error else None
        result = RepairResult(code, diag, "already-ok", report=first)
        result.elapsed_ms = (time.perf_counter() - start) * 1e3
        return result

    diag = _diagnose(first)
    result = RepairResult(code, diag, "unfixed")
    frontier: list[tuple[str, VerificationReport, list[Candidate]]] = [(prepared.code, first, [])]
    seen_errors = {_progress_key(first)}
    budget = max_verifications
    for _depth in range(MAX_DEPTH):
        next_frontier = []
        for state_code, state_report, steps in frontier:
            for candidate in candidates_for(state_code, _diagnose(state_report), ctx):
                if budget <= 0:
                    break
                budget -= 1
                report = verify(candidate.code, tables, helpers=ctx.helpers, preview=preview)
                result.attempts.append(Attempt(candidate, report.ok, report.summary()))
                if report.ok:
                    result.status = "fixed"
                    result.steps = [*steps, candidate]
                    result.fixed_code = prepared.restore(candidate.code)
                    result.report = report
                    result.elapsed_ms = (time.perf_counter() - start) * 1e3
                    return result
                key = _progress_key(report)
                if key not in seen_errors:
                    seen_errors.add(key)
                    next_frontier.append((candidate.code, report, [*steps, candidate]))
        frontier = next_frontier
        if not frontier or budget <= 0:
            break
    result.elapsed_ms = (time.perf_counter() - start) * 1e3
    return result
