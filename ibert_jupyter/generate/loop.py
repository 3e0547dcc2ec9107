"""The verified-generation loop: N candidates -> verifier -> best, or refine with errors.

Nothing is presented as working unless the verifier compiled it against the tables given
(live tables in the kernel, or unbound tables rebuilt from its schema snapshot on the server).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Protocol, Sequence

from ibert_jupyter.generate.docs import retrieve_docs
from ibert_jupyter.model.base import ChatModel, GenerationRequest, Message
from ibert_jupyter.model.prompts import extract_code, generation_messages, refinement_messages
from ibert_jupyter.verify import VerificationReport, verify

Event = dict[str, Any]


class CandidateSource(Protocol):
    """Where candidate texts come from: a model, or a scripted source in tests."""

    def candidates(self, messages: Sequence[Message], n: int, on_token: Callable[[int, str], None]) -> list[str]:
        ...


class ModelCandidateSource:
    def __init__(self, model: ChatModel, *, max_new_tokens: int = 512, temperature: float = 0.7,
                 top_p: float = 0.95):
        self.model = model
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.top_p = top_p

    def candidates(self, messages, n, on_token):
        request = GenerationRequest(messages=list(messages), n=n, max_new_tokens=self.max_new_tokens,
                                    temperature=self.temperature, top_p=self.top_p)
        return [c.text for c in self.model.generate(request, on_token)]


@dataclass(frozen=True)
class Candidate:
    round: int
    index: int
    text: str
    code: str
    report: VerificationReport

    def to_dict(self) -> dict[str, Any]:
        return {"round": self.round, "index": self.index, "text": self.text, "code": self.code,
                "report": self.report.to_dict()}


@dataclass(frozen=True)
class GenerationResult:
    request: str
    candidates: list[Candidate] = field(default_factory=list)
    rounds: int = 0

    @property
    def verified(self) -> list[Candidate]:
        return [c for c in self.candidates if c.report.ok]

    @property
    def best(self) -> Candidate | None:
        verified = self.verified
        # shortest verified code first: fewer moving parts, same compiled result class
        return min(verified, key=lambda c: (len(c.code.splitlines()), c.round, c.index)) if verified else None

    def to_dict(self) -> dict[str, Any]:
        best = self.best
        return {
            "request": self.request,
            "rounds": self.rounds,
            "verified": bool(self.verified),
            "best": self.candidates.index(best) if best else None,
            "candidates": [c.to_dict() for c in self.candidates],
        }


def generate_verified(
    request: str,
    tables: Mapping[str, Any],
    source: CandidateSource,
    *,
    snapshot: Mapping[str, Any] | None = None,
    n: int = 4,
    rounds: int = 2,
    dialect: str | None = None,
    docs_k: int = 5,
    on_event: Callable[[Event], None] | None = None,
) -> GenerationResult:
    """Run the loop; ``tables`` are what candidates are verified against."""
    if not request or not request.strip():
        raise ValueError("empty request: say what the Ibis code should compute")
    if n < 1 or rounds < 1:
        raise ValueError("n and rounds must be at least 1")
    emit = on_event or (lambda event: None)
    if snapshot is None:
        from ibert_jupyter.context import schema_snapshot

        snapshot = schema_snapshot(dict(tables))
    docs = retrieve_docs(request, docs_k)
    emit({"event": "docs", "count": len(docs)})
    messages = generation_messages(request, snapshot, docs=docs, dialect=dialect)
    candidates: list[Candidate] = []
    for round_no in range(1, rounds + 1):
        emit({"event": "round", "round": round_no, "n": n})
        texts = source.candidates(messages, n, lambda i, t: emit({"event": "token", "candidate": i, "text": t}))
        this_round = []
        for index, text in enumerate(texts):
            code = extract_code(text)
            report = verify(code, tables, dialect=dialect)
            candidate = Candidate(round_no, index, text, code, report)
            this_round.append(candidate)
            emit({"event": "candidate", "round": round_no, "candidate": index, "ok": report.ok,
                  "summary": report.summary()})
        candidates.extend(this_round)
        if any(c.report.ok for c in this_round):
            break
        failures = [(c.code, c.report.summary()) for c in this_round if c.code][:3]
        if not failures:
            failures = [(c.text, c.report.summary()) for c in this_round][:1]
        messages = refinement_messages(messages, failures)
    result = GenerationResult(request, candidates, round_no)
    emit({"event": "verified" if result.best else "unverified", "rounds": round_no})
    return result
