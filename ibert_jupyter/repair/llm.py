"""The model path of repair: a prompt with code, traceback, schemas and API docs.

Used only when no deterministic fix verified. The model's answers go through the same
verifier as every other candidate; nothing it says is offered as verified unless it runs.
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import AbstractSet, Any, Mapping

import ibis
import ibis.expr.types as ir

from ibert_jupyter.model.base import ChatModel, GenerationRequest, Message
from ibert_jupyter.repair.candidate import Candidate
from ibert_jupyter.repair.diagnosis import Diagnosis
from ibert_jupyter.repair.repairer import Attempt, RepairResult, RepairStatus
from ibert_jupyter.repair.namespace_check import verify_in_namespace

SYSTEM_PROMPT = (
    "You fix Python code that uses the Ibis dataframe library (ibis {version}). "
    "Use only the tables and columns listed. Answer with one ```python block holding the "
    "whole corrected cell, ending with the result expression, then one sentence saying what "
    "you changed."
)
_CODE_BLOCK = re.compile(r"```(?:python|py)?\s*\n(.*?)```", re.DOTALL)


def api_docs(query: str, k: int = 4) -> tuple[list[str], str | None]:
    """Relevant Ibis API chunks from the retrieval index, or a note why there are none."""
    try:
        from ibert_jupyter import retrieval
        from ibert_jupyter.retrieval.errors import IndexUnavailable
    except ImportError as exc:
        return [], f"API docs unavailable ({exc})"
    search = getattr(retrieval, "search", None)
    if search is None:
        return [], "API docs unavailable (retrieval has no search yet)"
    try:
        hits = search(query, k)
    except IndexUnavailable as exc:
        return [], f"API docs unavailable: {exc}"
    except Exception as exc:  # noqa: BLE001 - docs are optional context
        return [], f"API docs unavailable ({type(exc).__name__}: {exc})"
    return [hit.prompt_text() if hasattr(hit, "prompt_text") else str(hit) for hit in hits], None


def _schemas(tables: Mapping[str, ir.Table]) -> str:
    return json.dumps(
        {name: {c: str(t) for c, t in table.schema().items()} for name, table in tables.items()},
        indent=1,
    )


def build_repair_prompt(
    code: str,
    diagnosis: Diagnosis | None,
    traceback_text: str | None,
    tables: Mapping[str, ir.Table],
    docs: list[str] | None = None,
    tried: list[Attempt] | None = None,
) -> list[Message]:
    """Chat messages asking the model to repair ``code``."""
    parts = [f"The cell below fails.\n\n```python\n{code.rstrip()}\n```"]
    if diagnosis is not None:
        parts.append(f"Error: {diagnosis.error_type}: {diagnosis.message}\nDiagnosis: {diagnosis.headline()}")
    if traceback_text:
        parts.append(f"Traceback (last lines):\n{traceback_text.strip()[-1500:]}")
    parts.append(f"Tables in the notebook (variable -> column -> type):\n{_schemas(tables)}")
    if docs:
        parts.append("Relevant Ibis API documentation:\n" + "\n---\n".join(docs))
    if tried:
        failed = "\n".join(f"- {a.candidate.rule}: {a.summary}" for a in tried[:5])
        parts.append(f"Fixes already tried that did not verify:\n{failed}")
    return [
        {"role": "system", "content": SYSTEM_PROMPT.format(version=ibis.__version__)},
        {"role": "user", "content": "\n\n".join(parts)},
    ]


def extract_code(text: str) -> str | None:
    match = _CODE_BLOCK.search(text or "")
    return match.group(1).strip() + "\n" if match else None


def default_model() -> tuple[ChatModel | None, str | None]:
    """The configured Devstral runtime, or None and the reason it is unavailable."""
    try:
        from ibert_jupyter.model.errors import ModelUnavailable
        from ibert_jupyter.model.runtime import get_default_model
    except ImportError as exc:
        return None, f"model unavailable: the model runtime is not installed ({exc})"
    try:
        return get_default_model(), None
    except ModelUnavailable as exc:
        return None, f"model unavailable: {exc}"


def model_repair(
    result: RepairResult,
    tables: Mapping[str, ir.Table],
    model: ChatModel,
    *,
    helpers: Mapping[str, Any] | None = None,
    traceback_text: str | None = None,
    n: int = 3,
    provided: AbstractSet[str] | None = None,
) -> RepairResult:
    """Ask ``model`` for fixes of an unfixed ``result``; verify each; return an updated copy.

    A model's fix that runs is still a guess: its status is "model-fixed", never verified."""
    docs, note = api_docs(f"{result.diagnosis.headline() if result.diagnosis else ''} {result.diagnosis.message if result.diagnosis else ''}")
    if note:
        result = result.with_note(note + ".")
    messages = build_repair_prompt(result.original, result.diagnosis, traceback_text, tables, docs, result.attempts)
    completions = model.generate(GenerationRequest(messages=messages, n=n, temperature=0.2))
    for completion in completions:
        code = extract_code(completion.text)
        if code is None:
            continue
        candidate = Candidate(code, f"model:{getattr(model, 'name', 'model')}", "The model proposed this fix: " + completion.text.split("```")[-1].strip())
        report = verify_in_namespace(code, tables, provided=provided, helpers=helpers or {}, preview=True)
        result = dataclasses.replace(result, attempts=(*result.attempts, Attempt(candidate, report.ok, report.summary())))
        if report.ok:
            return dataclasses.replace(result, status=RepairStatus.MODEL_FIXED, fixed_code=code, steps=(candidate,), report=report)
    return result.with_note(f"The model's proposals ({len(completions)}) did not run.")
