"""IbisBench tasks: what one line of ``data/ibisbench/*.jsonl`` holds, and the suites."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

TIERS = ("filter_aggregate", "joins", "windows_ranking", "subqueries_sets_dates")
SPLITS = ("dev", "test")
SUITES = {"ibisbench": SPLITS, "ibisbench-dev": ("dev",), "ibisbench-test": ("test",)}


@dataclass(frozen=True)
class Task:
    """An analyst's request, the tables in scope, and the gold program with its result's shape.

    ``ordered``: the request asks for an order, so results are compared in order on
    ``order_keys`` (output positions); else as multisets. ``limited``: the gold keeps the first
    rows only, so the last group of rows tied on the keys may differ.
    """

    id: str
    database: str
    tier: str
    split: str
    request: str
    tables: tuple[str, ...]
    gold_code: str
    ordered: bool = False
    order_keys: tuple[int, ...] = ()
    limited: bool = False
    gold_symbols: tuple[str, ...] = ()
    expected: dict = field(default_factory=dict, compare=False)
    suite: str = "ibisbench"

    @classmethod
    def from_dict(cls, data: dict) -> Task:
        return cls(id=data["id"], database=data["database"], tier=data["tier"], split=data["split"],
                   request=data["request"], tables=tuple(data["tables"]), gold_code=data["gold_code"],
                   ordered=bool(data.get("ordered")), order_keys=tuple(data.get("order_keys") or ()),
                   limited=bool(data.get("limited")), gold_symbols=tuple(data.get("gold_symbols") or ()),
                   expected=dict(data.get("expected") or {}), suite=data.get("suite", "ibisbench"))

    def to_dict(self) -> dict:
        return {"id": self.id, "suite": self.suite, "database": self.database, "tier": self.tier,
                "split": self.split, "request": self.request, "tables": list(self.tables),
                "gold_code": self.gold_code, "ordered": self.ordered, "order_keys": list(self.order_keys),
                "limited": self.limited, "gold_symbols": list(self.gold_symbols), "expected": self.expected}


def data_dir() -> Path:
    return Path(str(resources.files("ibert_jupyter.evaluation"))) / "data" / "ibisbench"


def load_tasks(suite: str = "ibisbench", *, path: Path | None = None) -> list[Task]:
    """The tasks of ``suite`` (ibisbench | ibisbench-dev | ibisbench-test), in file order."""
    if suite not in SUITES:
        raise ValueError(f"unknown suite {suite!r}; use one of {', '.join(SUITES)}")
    files = [path] if path else sorted(data_dir().glob("*.jsonl"))
    if not files:
        raise FileNotFoundError(f"no IbisBench task files under {data_dir()}")
    tasks = []
    for file in files:
        for number, line in enumerate(Path(file).read_text().splitlines(), 1):
            if not line.strip():
                continue
            try:
                task = Task.from_dict(json.loads(line))
            except (KeyError, json.JSONDecodeError) as exc:
                raise ValueError(f"{file}:{number}: not an IbisBench task ({exc})") from exc
            if task.split in SUITES[suite]:
                tasks.append(task)
    return tasks
