"""Run a backend over IbisBench tasks: prompt → n samples → verifier → execution vs gold,
with up to R repair rounds per sample and with or without retrieved API docs.

Protocol, per task and docs setting: one call asks for n samples of the first answer (round 0).
A sample the verifier rejects is sent back with the verifier's message (the product's own
``refinement_messages``), once per round, up to R rounds; a sample that compiled stays as it
is (at answer time nothing knows whether its result is right). Scores at round r count each
sample as it stands after r repairs, so rounds 0..R come from one run.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Callable, Sequence

from ibert_jupyter.evaluation.ibisbench import gold
from ibert_jupyter.evaluation.ibisbench.backends import Backend
from ibert_jupyter.evaluation.ibisbench.databases import tables_for
from ibert_jupyter.evaluation.ibisbench.results import same_result
from ibert_jupyter.evaluation.ibisbench.symbols import covered
from ibert_jupyter.evaluation.ibisbench.tasks import Task
from ibert_jupyter.model.prompts import extract_code, generation_messages, refinement_messages

if TYPE_CHECKING:
    from ibert_jupyter.verify import Stage

DOCS_K = 5


class Outcome(StrEnum):
    """How a program that compiled fared against the gold result (else: the verifier's failing stage)."""

    CORRECT = "ok"
    WRONG_RESULT = "result"


@dataclass(frozen=True)
class Attempt:
    """One candidate program and what became of it."""

    round: int
    code: str
    compiled: bool
    correct: bool
    stage: Stage | Outcome  # the verifier's failing stage, else how the compiled program fared
    message: str = ""
    tokens: int = 0
    model_ms: float = 0.0
    verify_ms: float = 0.0  # parse → SQL
    execute_ms: float = 0.0  # the verifier's preview: the full result from DuckDB


@dataclass(frozen=True)
class SampleRun:
    attempts: tuple[Attempt, ...]

    def at_round(self, r: int) -> Attempt:
        """The sample as it stands after ``r`` repair rounds."""
        return self.attempts[min(r, len(self.attempts) - 1)]


@dataclass(frozen=True)
class TaskRun:
    task: Task
    docs: bool
    samples: tuple[SampleRun, ...]
    doc_names: tuple[str, ...] = ()
    prompt_ms: float = 0.0

    def correct(self, r: int) -> int:
        return sum(s.at_round(r).correct for s in self.samples)

    def compiled(self, r: int) -> int:
        return sum(s.at_round(r).compiled for s in self.samples)


@dataclass(frozen=True)
class RetrievalRun:
    """The API docs a task's prompt carried: the retrieved symbols, and the core sheet's (if any)."""

    task: Task
    retrieved: tuple[str, ...]
    sheet: tuple[str, ...] = ()

    @property
    def recall(self) -> float:
        """Share of the gold program's API names that some doc in the prompt documents."""
        gold_symbols = self.task.gold_symbols
        found = covered(gold_symbols, self.retrieved + self.sheet)
        return len(found) / len(gold_symbols) if gold_symbols else 1.0

    @property
    def specific_recall(self) -> float | None:
        """The same over names the core sheet lacks, found by search alone (None: nothing to find)."""
        rest = tuple(s for s in self.task.gold_symbols if not covered((s,), self.sheet))
        return len(covered(rest, self.retrieved)) / len(rest) if rest else None


@dataclass(frozen=True)
class EvalRun:
    suite: str
    backend: str
    n: int
    rounds: int
    docs_settings: tuple[bool, ...]
    runs: tuple[TaskRun, ...]
    retrieval: tuple[RetrievalRun, ...] = ()
    docs_available: bool = False
    wall_s: float = 0.0
    meta: dict = field(default_factory=dict)


class _Checker:
    """Verifies candidates and compares their results with the gold's, caching both per task."""

    def __init__(self, task: Task, tables):
        self.task, self.tables = task, tables
        self.expected = gold.execute(gold.build(task.gold_code, tables))
        self._seen: dict[str, tuple] = {}

    def check(self, code: str) -> tuple[bool, bool, str, str, float, float]:
        """(compiled, correct, stage, message, verify ms, execute ms); a repeated program costs 0 ms."""
        if code in self._seen:
            return (*self._seen[code][:4], 0.0, 0.0)
        if code not in self._seen:
            from ibert_jupyter.verify import Stage, verify

            report = verify(code, self.tables, preview=True, preview_rows=gold.MAX_RESULT_ROWS + 1)
            timings = dict(report.timings_ms)
            execute_ms = timings.pop("preview", 0.0)
            verify_ms = sum(timings.values())
            if not report.ok:
                compiled = report.stage == Stage.PREVIEW  # it compiled; running it failed
                self._seen[code] = (compiled, False, report.stage, report.summary(), verify_ms, execute_ms)
            else:
                task = self.task
                same = same_result(self.expected, report.preview, task.order_keys if task.ordered else None,
                                   task.limited)
                self._seen[code] = (True, bool(same), Outcome.CORRECT if same else Outcome.WRONG_RESULT, same.reason,
                                    verify_ms, execute_ms)
        return self._seen[code]


def _run_sample(backend: Backend, task: Task, checker: _Checker, messages, index: int, first, rounds: int,
                docs: bool) -> SampleRun:
    attempts = []
    sample, history = first, list(messages)
    for r in range(rounds + 1):
        code = extract_code(sample.text)
        compiled, correct, stage, message, verify_ms, execute_ms = checker.check(code)
        attempts.append(Attempt(r, code, compiled, correct, stage, message, sample.tokens, sample.ms,
                                verify_ms, execute_ms))
        if compiled or r == rounds:
            break
        history = refinement_messages(history, [(code or sample.text, message)])
        sample = backend.sample(task, history, 1, r + 1, docs, index)[0]
    return SampleRun(tuple(attempts))


def _task_docs(task: Task, k: int):
    from ibert_jupyter.generate.docs import retrieve_api_docs

    return retrieve_api_docs(task.request, k)


def plain_docs(task: Task, k: int):
    """The docs before task-style retrieval: ``search(request, k)`` alone, no core sheet (a baseline)."""
    from ibert_jupyter.generate.docs import hit_doc
    from ibert_jupyter.retrieval import search
    from ibert_jupyter.retrieval.errors import IndexUnavailable

    try:
        return [hit_doc(hit) for hit in search(task.request, k)]
    except IndexUnavailable:
        return []


RETRIEVERS = {"task": _task_docs, "plain": plain_docs}


def evaluate(tasks: Sequence[Task], backend: Backend, *, n: int = 8, rounds: int = 2,
             docs_settings: Sequence[bool] = (True, False), docs_k: int = DOCS_K, suite: str = "ibisbench",
             retrieve: Callable[[Task, int], list] | None = None, progress: bool = True) -> EvalRun:
    """Score ``backend`` on ``tasks``; ``retrieve(task, k)`` gives the docs (default: the index)."""
    from tqdm import tqdm

    from ibert_jupyter.context import schema_snapshot

    if n < 1 or rounds < 0:
        raise ValueError(f"need n >= 1 and rounds >= 0, got n={n}, rounds={rounds}")
    if not tasks:
        raise ValueError("no tasks to evaluate")
    retrieve = retrieve or _task_docs
    started = time.perf_counter()
    runs, retrieval, docs_available = [], [], False
    for task in tqdm(tasks, desc=f"eval {backend.name}", file=sys.stderr, disable=not progress):
        tables = tables_for(task.database, task.tables)
        checker = _Checker(task, tables)
        t0 = time.perf_counter()
        snapshot = schema_snapshot(tables)
        docs = retrieve(task, docs_k)
        prompt_ms = (time.perf_counter() - t0) * 1e3
        docs_available = docs_available or bool(docs)
        sheet = tuple(n for d in docs if len(d.documents) > 1 for n in d.documents)
        retrieval.append(RetrievalRun(task, tuple(d.name for d in docs if len(d.documents) == 1), sheet))
        for with_docs in docs_settings:
            messages = generation_messages(task.request, snapshot, docs=[d.text for d in docs] if with_docs else ())
            firsts = backend.sample(task, messages, n, 0, with_docs)
            if len(firsts) != n:
                raise RuntimeError(f"backend {backend.name} returned {len(firsts)} samples for n={n}")
            samples = tuple(_run_sample(backend, task, checker, messages, i, s, rounds, with_docs)
                            for i, s in enumerate(firsts))
            runs.append(TaskRun(task, with_docs, samples, tuple(d.name for d in docs) if with_docs else (), prompt_ms))
    return EvalRun(suite, backend.name, n, rounds, tuple(docs_settings), tuple(runs), tuple(retrieval),
                   docs_available, time.perf_counter() - started)
