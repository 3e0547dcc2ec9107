"""Build ``data/ibisbench/<database>.jsonl`` from the hand-written ``src/<database>.txt``.

A source file holds blocks::

    ### tpch-017 | joins | orders, customer | ordered
    Which ten customers spent the most in 1996?
    >>>
    <gold Ibis program, ending with its result expression>

Every gold program goes through the verifier (sandbox, build, type-check, SQL) against the
database's live tables, then runs on DuckDB; a block whose gold fails stops the build with
its id. The split is fixed here, per database and tier, from a hash of the id (40 % dev), and
written into the file; ``python -m ibert_jupyter.evaluation.ibisbench.build`` rebuilds.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path

from ibert_jupyter.errors import IbertInputError
from ibert_jupyter.evaluation.ibisbench import gold
from ibert_jupyter.evaluation.ibisbench.databases import DATABASES, tables_for
from ibert_jupyter.evaluation.ibisbench.results import digest, head_rows
from ibert_jupyter.evaluation.ibisbench.symbols import api_symbols
from ibert_jupyter.evaluation.ibisbench.tasks import TIERS, Task, data_dir

DEV_FRACTION = 0.4
_HEADER = re.compile(r"^### (?P<id>[\w-]+) \| (?P<tier>\w+) \| (?P<tables>[^|]+?)\s*(?:\| (?P<flags>[\w, ]+))?$")


class TaskSourceError(IbertInputError):
    """A source block is malformed or its gold program does not verify and run."""


def parse_source(text: str, database: str) -> list[dict]:
    blocks = [b for b in re.split(r"(?m)^(?=### )", text) if b.strip() and b.lstrip().startswith("###")]
    out = []
    for block in blocks:
        header, _, rest = block.partition("\n")
        match = _HEADER.match(header.strip())
        if not match:
            raise TaskSourceError(f"bad task header: {header!r}")
        if ">>>" not in rest:
            raise TaskSourceError(f"{match['id']}: no '>>>' between request and gold program")
        request, _, code = rest.partition("\n>>>\n")
        tier = match["tier"]
        if tier not in TIERS:
            raise TaskSourceError(f"{match['id']}: unknown tier {tier!r}")
        flags = {f.strip() for f in (match["flags"] or "").split(",") if f.strip()}
        out.append({"id": match["id"], "database": database, "tier": tier,
                    "tables": [t.strip() for t in match["tables"].split(",")],
                    "request": " ".join(request.split()), "gold_code": code.strip() + "\n",
                    "ordered": "ordered" in flags})
    return out


def assign_splits(rows: list[dict]) -> None:
    """40 % of each (database, tier) to dev, by the hash of the id: fixed, and unrelated to content."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        groups.setdefault((row["database"], row["tier"]), []).append(row)
    for group in groups.values():
        group.sort(key=lambda r: hashlib.sha256(r["id"].encode()).hexdigest())
        n_dev = round(len(group) * DEV_FRACTION)
        for i, row in enumerate(group):
            row["split"] = "dev" if i < n_dev else "test"


def check_and_complete(row: dict) -> Task:
    """Verify and run the gold program; fill in order keys, symbols and the expected result."""
    from ibert_jupyter.verify import verify

    tables = tables_for(row["database"], row["tables"])
    report = verify(row["gold_code"], tables)
    if not report.ok:
        raise TaskSourceError(f"{row['id']}: gold program does not verify: {report.summary()}")
    expr = gold.build(row["gold_code"], tables)
    frame = gold.execute(expr)
    if len(frame) > gold.MAX_RESULT_ROWS:
        raise TaskSourceError(f"{row['id']}: gold result has {len(frame)} rows (max {gold.MAX_RESULT_ROWS})")
    if len(frame) == 0:
        raise TaskSourceError(f"{row['id']}: gold result is empty; a task must have rows to compare")
    keys, limited = gold.order_info(expr)
    if row["ordered"] and not keys:
        raise TaskSourceError(f"{row['id']}: marked ordered but the gold program does not end sorted on output columns")
    expected = {"columns": list(frame.columns), "rows": len(frame),
                "digest": digest(frame, keys if row["ordered"] else None), "head": head_rows(frame)}
    return Task.from_dict({**row, "order_keys": list(keys) if row["ordered"] else [], "limited": limited,
                           "gold_symbols": list(api_symbols(row["gold_code"])), "expected": expected})


def build(databases=DATABASES, *, out_dir: Path | None = None) -> dict[str, int]:
    from tqdm import tqdm

    out_dir = out_dir or data_dir()
    counts = {}
    for database in databases:
        rows = parse_source((data_dir() / "src" / f"{database}.txt").read_text(), database)
        ids = [r["id"] for r in rows]
        duplicates = {i for i in ids if ids.count(i) > 1}
        if duplicates:
            raise TaskSourceError(f"duplicate task ids: {', '.join(sorted(duplicates))}")
        assign_splits(rows)
        tasks, errors = [], []
        for row in tqdm(rows, desc=database, file=sys.stderr):
            try:
                tasks.append(check_and_complete(row))
            except Exception as exc:  # noqa: BLE001 - every failing gold is listed, then the build stops
                errors.append(f"{row['id']}: {type(exc).__name__}: {exc}"[:400])
        if errors:
            raise TaskSourceError(f"{len(errors)} gold program(s) failed:\n" + "\n".join(errors))
        (out_dir / f"{database}.jsonl").write_text("".join(json.dumps(t.to_dict()) + "\n" for t in tasks))
        counts[database] = len(tasks)
    return counts


if __name__ == "__main__":  # pragma: no cover
    chosen = sys.argv[1:] or list(DATABASES)
    print(json.dumps(build(chosen)))
