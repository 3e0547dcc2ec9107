"""Where candidate programs come from: a model (local, OpenAI-compatible), a replay file, the
gold programs, or a script (tests). One small interface; the harness never knows which.

A backend answers ``sample(task, messages, n, round, docs, first=0) -> list[Sample]``: ``round``
0 is the first answer, ``round`` r > 0 a repair after r compiler errors; ``docs`` says whether
the prompt carried retrieved API docs (a replay file can hold answers for both); the answers
are samples ``first .. first + n - 1`` of the task (a repair call asks for one, its sample's).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol, Sequence

from ibert_jupyter.errors import IbertError
from ibert_jupyter.evaluation.ibisbench.tasks import Task
from ibert_jupyter.model.base import GenerationRequest, Message

# name -> "module:Class"; each class builds itself from the command line's options with
# ``from_options(name, replay=..., max_new_tokens=..., temperature=...)``. Imported only when
# chosen (ibert_jupyter.registry): the model backends load the model runtime, torch included.
BACKENDS: dict[str, str] = {
    "local": "ibert_jupyter.evaluation.ibisbench.backends:ModelBackend",
    "openai": "ibert_jupyter.evaluation.ibisbench.backends:ModelBackend",
    "replay": "ibert_jupyter.evaluation.ibisbench.backends:ReplayBackend",
    "gold": "ibert_jupyter.evaluation.ibisbench.backends:GoldBackend",
    "scripted": "ibert_jupyter.evaluation.ibisbench.backends:ScriptedBackend",
}


@dataclass(frozen=True)
class Sample:
    text: str
    tokens: int = 0
    ms: float = 0.0  # wall time of the call that produced it, shared by its n siblings


class Backend(Protocol):
    name: str

    def sample(self, task: Task, messages: Sequence[Message], n: int, round: int, docs: bool,
               first: int = 0) -> list[Sample]:
        ...


class ModelBackend:
    """A ChatModel (Devstral in this process, or an OpenAI-compatible endpoint): n samples per call."""

    def __init__(self, model, *, max_new_tokens: int = 256, temperature: float = 0.8, top_p: float = 0.95):
        self.model = model
        self.name = getattr(model, "name", type(model).__name__)
        self.max_new_tokens, self.temperature, self.top_p = max_new_tokens, temperature, top_p

    @classmethod
    def from_options(cls, name: str, *, max_new_tokens: int = 256, temperature: float = 0.8,
                     **_: object) -> "ModelBackend":
        """local or openai, with the model settings read from IBERT_* variables."""
        from ibert_jupyter.model.config import ModelSettings
        from ibert_jupyter.model.runtime import build_model

        settings = ModelSettings.from_env()
        if name == "openai" and settings.backend != "openai":
            raise ValueError("--backend openai needs IBERT_OPENAI_BASE_URL (and IBERT_OPENAI_MODEL)")
        if name == "local":
            settings = settings.with_(backend="local")
        return cls(build_model(settings), max_new_tokens=max_new_tokens, temperature=temperature)

    def sample(self, task, messages, n, round, docs, first=0):
        request = GenerationRequest(messages=list(messages), n=n, max_new_tokens=self.max_new_tokens,
                                    temperature=self.temperature, top_p=self.top_p)
        t0 = time.perf_counter()
        completions = self.model.generate(request)
        ms = (time.perf_counter() - t0) * 1e3
        return [Sample(c.text, c.tokens, ms) for c in completions]


class GoldBackend:
    """Answers every task with its own gold program: scores 1.0 when harness and gold agree."""

    name = "gold"

    @classmethod
    def from_options(cls, name: str, **_: object) -> "GoldBackend":
        return cls()

    def sample(self, task, messages, n, round, docs, first=0):
        return [Sample(f"```python\n{task.gold_code}```", len(task.gold_code.split()), 0.0)] * n


class ScriptedBackend:
    """SCRIPTED (tests): answers come from a function of (task, round, sample index)."""

    name = "scripted"

    def __init__(self, answer: Callable[[Task, int, int], str]):
        self.answer = answer
        self.prompts: list[Sequence[Message]] = []

    @classmethod
    def from_options(cls, name: str, **_: object) -> "ScriptedBackend":
        raise ValueError("the scripted backend is built in code (tests), not from the command line")

    def sample(self, task, messages, n, round, docs, first=0):
        self.prompts.append(list(messages))
        return [Sample(self.answer(task, round, first + i), 0, 0.0) for i in range(n)]


class ReplayMissing(IbertError, LookupError):
    """A replay file has no answer for a (task, docs, round, sample) the harness asked for."""


class ReplayBackend:
    """Recorded completions, one JSON object a line::

        {"id": "tpch-004", "docs": true, "round": 0, "sample": 0, "text": "...", "tokens": 41, "ms": 812.0}

    ``docs`` may be left out (the answer serves both settings). ``ibert eval --record FILE``
    writes such a file from any backend, so a GPU run can be re-scored anywhere.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.name = f"replay:{self.path.name}"
        if not self.path.is_file():
            raise FileNotFoundError(f"replay file {self.path} does not exist")
        self.answers: dict[tuple, Sample] = {}
        for number, line in enumerate(self.path.read_text().splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                key = (row["id"], row.get("docs"), int(row.get("round", 0)), int(row.get("sample", 0)))
                self.answers[key] = Sample(str(row["text"]), int(row.get("tokens", 0)), float(row.get("ms", 0.0)))
            except (KeyError, ValueError, TypeError) as exc:
                raise ValueError(f"{self.path}:{number}: not a replay record ({exc})") from exc

    @classmethod
    def from_options(cls, name: str, *, replay: str | None = None, **_: object) -> "ReplayBackend":
        if not replay:
            raise ValueError("--backend replay needs --replay FILE (a file written by `ibert eval --record`)")
        return cls(replay)

    def sample(self, task, messages, n, round, docs, first=0):
        out = []
        for i in range(first, first + n):
            found = self.answers.get((task.id, docs, round, i)) or self.answers.get((task.id, None, round, i))
            if found is None:
                raise ReplayMissing(f"{self.path} has no answer for task {task.id}, docs={docs}, round {round}, "
                                    f"sample {i}; record n={n} samples (ibert eval --record)")
            out.append(found)
        return out


class RecordingBackend:
    """Wraps a backend and writes every answer as a replay record."""

    def __init__(self, inner: Backend, path: str | Path):
        self.inner, self.name = inner, inner.name
        self.file = Path(path).open("w")

    def sample(self, task, messages, n, round, docs, first=0):
        samples = self.inner.sample(task, messages, n, round, docs, first)
        for i, s in enumerate(samples, first):
            self.file.write(json.dumps({"id": task.id, "docs": docs, "round": round, "sample": i, "text": s.text,
                                        "tokens": s.tokens, "ms": s.ms}) + "\n")
        self.file.flush()
        return samples

    def close(self) -> None:
        self.file.close()


def make_backend(kind: str, *, replay: str | None = None, max_new_tokens: int = 256,
                 temperature: float = 0.8) -> Backend:
    """A backend by name (``BACKENDS``); local and openai read the model settings from IBERT_* variables."""
    from ibert_jupyter.registry import load

    return load(BACKENDS, kind, "backend").from_options(kind, replay=replay, max_new_tokens=max_new_tokens,
                                                        temperature=temperature)
