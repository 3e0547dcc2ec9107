"""The saved dataset, re-checked from its files: every sampled example still verifies and executes
to the recorded result on a fresh verifier and a freshly generated DuckDB database."""

from __future__ import annotations

import json
import random

import ibis
import pytest

from ibert_jupyter.training.data import load_splits
from ibert_jupyter.training.data.schemas import all_schemas, connect
from ibert_jupyter.verify import verify

pytestmark = pytest.mark.slow
TASKS = {"nl2ibis", "sql2ibis", "repair", "api_qa", "fim"}


def _rows(folder):
    splits = load_splits(folder)
    assert set(splits) == {"train", "dev", "test"}
    return [row for ds in splits.values() for row in ds]


def _tables(context, cache):
    """The tables an example names, rebuilt from scratch (fresh connection per schema)."""
    if context["kind"] == "schema":
        key = (context["schema"], context["seed"])
        if key not in cache:
            schema = next(s for s in all_schemas() if s.name == context["schema"])
            cache[key] = connect(schema, context["seed"])
        con, tables = cache[key]
        return {v: tables[v] for v in context["tables"]}, con.con
    namespace = {"ibis": ibis}
    exec(context["setup"], namespace)  # noqa: S102 - the ibis docstring's own memtable lines
    return {k: v for k, v in namespace.items() if isinstance(v, ibis.expr.types.Table)}, None


def _result(con, sql, code, tables):
    """Row count and hash of the full result, computed here (not through the builder's gate)."""
    if con is not None:
        rows, total = con.execute(
            f"SELECT count(*), coalesce(sum(hash(_row)::HUGEINT), 0)::VARCHAR FROM ({sql}) AS _row"
        ).fetchone()
        return rows, f"sql:{total}"
    from ibert_jupyter.training.data.gates import build, fingerprint

    return fingerprint(build(code, tables).execute())


def test_summary_line_and_stats(built):
    folder, summary = built
    assert set(summary) >= {"examples", "by_task", "by_source", "schemas", "rejected_by_stage",
                            "verified_fraction", "contaminated", "examples_per_s", "wall_s"}
    assert set(summary["by_task"]) == TASKS
    assert len(summary["schemas"]) >= 5
    assert summary["verified_fraction"] == 1.0 and summary["contaminated"] == 0
    stats = json.loads((folder / "stats.json").read_text())
    assert stats["examples"] == summary["examples"] == sum(stats["by_split"].values())
    assert "NOT Devstral's own" in stats["tokenizer"]
    assert (folder / "token_lengths.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "## Splits" in (folder / "README.md").read_text()


def test_sample_of_saved_examples_reverifies(built):
    folder, _ = built
    rows = _rows(folder)
    assert len(rows) >= 200
    sample = random.Random(0).sample(rows, 200)
    cache = {}
    for row in sample:
        tables, con = _tables(json.loads(row["context"]), cache)
        report = verify(row["code"], tables)
        assert report.ok, (row["id"], report.summary())
        assert _result(con, report.sql, row["code"], tables) == (row["result_rows"], row["result_hash"]), row["id"]
        assert row["messages"][-1]["role"] == "assistant" and row["n_tokens"] > 0
        if row["task"] == "repair":  # the broken cell really fails, the target is the verified code
            assert not verify(row["broken_code"], tables).ok
            assert row["code"].strip() in row["messages"][-1]["content"]
        elif row["task"] == "fim":
            user = row["messages"][1]["content"]
            prefix = user.split("Code before the cursor:\n```python\n", 1)[1].split("```\nCode after the cursor:", 1)[0]
            suffix = user.split("Code after the cursor:\n```python\n", 1)[1].rsplit("```", 1)[0]
            assert prefix + row["messages"][-1]["content"] + suffix == row["code"]
        else:
            assert row["code"].strip() in row["messages"][-1]["content"]


def test_loads_with_datasets_directly(built):
    import datasets

    folder, summary = built
    loaded = datasets.load_dataset("parquet", data_dir=str(folder / "data"))
    assert sum(len(ds) for ds in loaded.values()) == summary["examples"]
    assert {"id", "task", "source", "schema", "template", "split", "messages", "code", "n_tokens"} <= set(loaded["train"].column_names)


def test_resume_reuses_saved_chunks(built, tmp_path):
    """A rebuild into the same folder with the same seed and size reads the saved chunks: same ids."""
    from ibert_jupyter.training.data.build import BuildConfig, build

    folder, summary = built
    before = sorted(r["id"] for r in _rows(folder))
    stats = build(BuildConfig(folder, seed=3, size="tiny"), progress=False)
    assert stats["examples"] == summary["examples"]
    assert sorted(r["id"] for r in _rows(folder)) == before
