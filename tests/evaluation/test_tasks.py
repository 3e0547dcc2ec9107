"""IbisBench's task files: their shape, the fixed split, and every gold program verified and run."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from ibert_jupyter.evaluation.ibisbench import gold
from ibert_jupyter.evaluation.ibisbench.build import TaskSourceError, parse_source
from ibert_jupyter.evaluation.ibisbench.databases import DATABASES, tables_for
from ibert_jupyter.evaluation.ibisbench.results import digest
from ibert_jupyter.evaluation.ibisbench.symbols import api_symbols
from ibert_jupyter.evaluation.ibisbench.tasks import TIERS, data_dir, load_tasks

ALL = load_tasks("ibisbench")


def test_suite_size_databases_tiers_and_split():
    assert len(ALL) >= 300
    assert len({t.id for t in ALL}) == len(ALL)
    per = Counter((t.database, t.tier) for t in ALL)
    for database in DATABASES:
        for tier in TIERS:
            assert per[(database, tier)] >= 20, (database, tier)
    splits = Counter(t.split for t in ALL)
    assert set(splits) == {"dev", "test"} and 0.3 < splits["dev"] / len(ALL) < 0.5
    assert len(load_tasks("ibisbench-dev")) + len(load_tasks("ibisbench-test")) == len(ALL)
    assert all(t.split == "test" for t in load_tasks("ibisbench-test"))


def test_files_match_their_hand_written_sources():
    for database in DATABASES:
        source = parse_source((data_dir() / "src" / f"{database}.txt").read_text(), database)
        built = [t for t in ALL if t.database == database]
        assert [(s["id"], s["gold_code"], s["request"], s["ordered"]) for s in source] == \
               [(t.id, t.gold_code, t.request, t.ordered) for t in built]
        assert all(t.gold_symbols == api_symbols(t.gold_code) for t in built)


def test_ordered_only_where_keys_exist_and_requests_are_not_templates():
    assert all(t.order_keys for t in ALL if t.ordered)
    assert not any(t.order_keys for t in ALL if not t.ordered)
    openings = Counter(" ".join(t.request.lower().split()[:2]) for t in ALL)
    assert openings.most_common(1)[0][1] < len(ALL) * 0.1  # no two-word opening starts 10 % of requests


def test_malformed_sources_are_named():
    with pytest.raises(TaskSourceError, match="bad task header"):
        parse_source("### x | joins\nq\n>>>\nt\n", "tpch")
    with pytest.raises(TaskSourceError, match="unknown tier"):
        parse_source("### x | joinz | orders\nq\n>>>\norders\n", "tpch")
    with pytest.raises(TaskSourceError, match="no '>>>'"):
        parse_source("### x | joins | orders\nq\norders\n", "tpch")


def test_task_file_errors_are_named(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": "x"}) + "\n")
    with pytest.raises(ValueError, match="bad.jsonl:1: not an IbisBench task"):
        load_tasks("ibisbench", path=bad)
    with pytest.raises(ValueError, match="unknown suite"):
        load_tasks("ibisbench-train")


@pytest.mark.slow
@pytest.mark.parametrize("database", DATABASES)
def test_every_gold_program_verifies_runs_and_gives_the_recorded_result(database):
    from ibert_jupyter.verify import verify

    failures = []
    for task in (t for t in ALL if t.database == database):
        tables = tables_for(task.database, task.tables)
        report = verify(task.gold_code, tables)
        if not report.ok:
            failures.append(f"{task.id}: {report.summary()}")
            continue
        frame = gold.execute(gold.build(task.gold_code, tables))
        keys, limited = gold.order_info(gold.build(task.gold_code, tables))
        if digest(frame, task.order_keys if task.ordered else None) != task.expected["digest"]:
            failures.append(f"{task.id}: result differs from the recorded one")
        if len(frame) != task.expected["rows"] or list(frame.columns) != task.expected["columns"] or len(frame) == 0:
            failures.append(f"{task.id}: shape differs")
        if limited != task.limited:
            failures.append(f"{task.id}: limit flag differs")
    assert not failures, "\n".join(failures)
