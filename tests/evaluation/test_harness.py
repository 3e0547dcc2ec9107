"""The harness end to end on real DuckDB databases with SCRIPTED and REPLAY backends (fixed
answers standing in for a model; no model weights exist here), and the gold backend."""

from __future__ import annotations

import json
import random

import pytest

from ibert_jupyter.evaluation.ibisbench.backends import GoldBackend, ReplayBackend, ReplayMissing, ScriptedBackend
from ibert_jupyter.evaluation.ibisbench.harness import evaluate
from ibert_jupyter.evaluation.ibisbench.metrics import ks_for, pass_at_k, pass_at_k_brute
from ibert_jupyter.evaluation.ibisbench.report import summarize, to_html
from ibert_jupyter.evaluation.ibisbench.tasks import load_tasks

TASKS = {t.id: t for t in load_tasks("ibisbench")}
def no_docs(task, k):
    return []


def fenced(code: str) -> str:
    return f"Here you go:\n```python\n{code}\n```"


# four kinds of answer for tpch-003 ("How many customers sit in each market segment?")
RIGHT = 'customer.group_by("c_mktsegment").agg(n=customer.count())'
RIGHT_REORDERED = 'customer.group_by("c_mktsegment").agg(n=customer.count()).select("n", "c_mktsegment")'
WRONG = 'customer.group_by("c_nationkey").agg(n=customer.count())'
NOT_COMPILING = 'customer.group_by("c_segment").agg(n=customer.count())'
UNSAFE = 'import os\nos.system("echo hi")\ncustomer'


def test_pass_at_k_matches_brute_force():
    rng = random.Random(7)
    for _ in range(200):
        n = rng.randint(1, 10)
        outcomes = [rng.random() < 0.4 for _ in range(n)]
        for k in range(1, n + 1):
            assert pass_at_k(n, sum(outcomes), k) == pytest.approx(pass_at_k_brute(outcomes, k), abs=1e-12)
    assert ks_for(8) == [1, 2, 4, 8] and ks_for(6) == [1, 2, 4, 6]
    with pytest.raises(ValueError, match="k <= n"):
        pass_at_k(4, 1, 5)


def test_scripted_answers_are_scored_as_they_should_be():
    answers = [RIGHT, RIGHT_REORDERED, WRONG, NOT_COMPILING, UNSAFE]
    backend = ScriptedBackend(lambda task, r, i: fenced(answers[i]))
    run = evaluate([TASKS["tpch-003"]], backend, n=5, rounds=0, docs_settings=(False,), retrieve=no_docs,
                   progress=False)
    stages = [s.attempts[0].stage for s in run.runs[0].samples]
    assert stages == ["ok", "ok", "result", "build", "sandbox"]
    summary = summarize(run)
    assert summary["compile_rate"] == 0.6 and summary["exec_accuracy"] == 0.4
    assert summary["pass_at_k"]["1"] == 0.4 and summary["pass_at_k"]["5"] == 1.0
    assert summary["final_stages"] == {"ok": 2, "result": 1, "build": 1, "sandbox": 1}


def test_repair_rounds_send_the_verifier_error_back_and_count_per_round():
    def answer(task, r, i):
        return fenced(NOT_COMPILING if r == 0 else RIGHT) if i == 0 else fenced(UNSAFE)

    backend = ScriptedBackend(answer)
    run = evaluate([TASKS["tpch-003"]], backend, n=2, rounds=2, docs_settings=(False,), retrieve=no_docs,
                   progress=False)
    task_run = run.runs[0]
    assert [task_run.correct(r) for r in range(3)] == [0, 1, 1]
    assert [len(s.attempts) for s in task_run.samples] == [2, 3]  # the unsafe one tried every round
    repair_prompt = backend.prompts[1][-1]["content"]
    assert "c_segment" in repair_prompt and "failed at build" in repair_prompt
    grid = {(c["docs"], c["round"]): c["exec_accuracy"] for c in summarize(run)["grid"]}
    assert grid == {(False, 0): 0.0, (False, 1): 0.5, (False, 2): 0.5}


def test_order_matters_only_when_the_request_orders():
    ordered = TASKS["tpch-004"]  # "count of orders by order priority, most common priority first"
    assert ordered.ordered
    asc = 'orders.group_by("o_orderpriority").agg(n=_.count()).order_by("n")'
    desc = 'orders.group_by("o_orderpriority").agg(n=_.count()).order_by(ibis.desc("n"))'
    unordered = TASKS["tpch-003"]
    backend = ScriptedBackend(lambda task, r, i: fenced([asc, desc][i] if task is ordered else
                                                        RIGHT + '.order_by("n")'))
    run = evaluate([ordered, unordered], backend, n=2, rounds=0, docs_settings=(False,), retrieve=no_docs,
                   progress=False)
    assert [s.attempts[0].correct for s in run.runs[0].samples] == [False, True]
    assert run.runs[1].correct(0) == 2


def test_docs_reach_the_prompt_only_in_the_docs_setting():
    from ibert_jupyter.generate.docs import ApiDoc

    backend = ScriptedBackend(lambda task, r, i: fenced(RIGHT))
    docs = [ApiDoc("Table.group_by", "Table.group_by(self, *by)\n    Create a grouped table expression.")]
    run = evaluate([TASKS["tpch-003"]], backend, n=1, rounds=0, docs_settings=(True, False),
                   retrieve=lambda task, k: docs, progress=False)
    with_docs, without = (p[1]["content"] for p in backend.prompts)
    assert "Create a grouped table expression." in with_docs and "grouped table" not in without
    assert "SearchHit(" not in with_docs
    assert run.retrieval[0].recall == pytest.approx(1 / 3)  # group_by of agg, group_by, count


def _replay_file(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_replay_file_of_right_wrong_non_compiling_and_unsafe_answers(tmp_path):
    task = TASKS["tpch-003"]
    kinds = [RIGHT, WRONG, NOT_COMPILING, UNSAFE]
    records = [{"id": task.id, "round": 0, "sample": i, "text": fenced(code), "tokens": 20, "ms": 5.0}
               for i, code in enumerate(kinds)]
    # the repairs: the non-compiling sample is fixed, the unsafe one stays unsafe
    records += [{"id": task.id, "round": 1, "sample": 2, "text": fenced(RIGHT), "tokens": 20, "ms": 4.0},
                {"id": task.id, "round": 1, "sample": 3, "text": fenced(UNSAFE), "tokens": 20, "ms": 4.0}]
    replay = _replay_file(tmp_path / "answers.jsonl", records)
    run = evaluate([task], ReplayBackend(replay), n=4, rounds=1, docs_settings=(False,), retrieve=no_docs,
                   progress=False)
    assert [s.attempts[0].stage for s in run.runs[0].samples] == ["ok", "result", "build", "sandbox"]
    assert [s.at_round(1).stage for s in run.runs[0].samples] == ["ok", "result", "ok", "sandbox"]
    summary = summarize(run)
    grid = {c["round"]: (c["compile_rate"], c["exec_accuracy"]) for c in summary["grid"]}
    assert grid == {0: (0.5, 0.25), 1: (0.75, 0.5)}
    assert summary["tokens_per_task"] == 120 and summary["latency_ms_per_task"]["model"] == 5.0 + 4.0 + 4.0
    with pytest.raises(ReplayMissing, match="sample 4"):
        evaluate([task], ReplayBackend(replay), n=5, rounds=0, docs_settings=(False,), retrieve=no_docs,
                 progress=False)


def test_bad_replay_lines_are_named(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"round": 0}\n')
    with pytest.raises(ValueError, match="bad.jsonl:1: not a replay record"):
        ReplayBackend(bad)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ReplayBackend(tmp_path / "missing.jsonl")


def test_gold_backend_scores_one_on_every_database_and_tier(tmp_path):
    picked = {}
    for task in TASKS.values():
        picked.setdefault((task.database, task.tier), task)
    # plus every program whose preview needs UNNEST of a stored array (the preview guard once refused them)
    unnest = [t for t in TASKS.values() if "unnest" in t.gold_symbols and t not in picked.values()]
    assert unnest
    run = evaluate(list(picked.values()) + unnest, GoldBackend(), n=2, rounds=1, docs_settings=(False,),
                   retrieve=no_docs, progress=False)
    summary = summarize(run)
    assert summary["tasks"] == 12 + len(unnest)
    assert summary["exec_accuracy"] == 1.0 and summary["compile_rate"] == 1.0
    assert all(v["exec_accuracy"] == 1.0 for v in summary["by_tier"].values())
    page = to_html(summary)
    assert page.count("data:image/png;base64,") == 3 and "<table>" in page


def test_cli_replay_run_ends_with_one_json_line(tmp_path, capsys):
    from ibert_jupyter.cli import main

    tasks = load_tasks("ibisbench-dev")[:2]
    replay = _replay_file(tmp_path / "r.jsonl", [
        {"id": tasks[0].id, "sample": 0, "text": fenced(tasks[0].gold_code)},
        {"id": tasks[1].id, "sample": 0, "text": "import os"},
    ])
    rc = main(["eval", "--backend", "replay", "--replay", str(replay), "--suite", "ibisbench-dev", "--limit", "2",
               "--n", "1", "--rounds", "0", "--docs", "off", "--json", "--out", str(tmp_path / "report")])
    assert rc == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {"suite", "tasks", "compile_rate", "exec_accuracy", "pass_at_k", "by_tier",
            "retrieval_recall_at_5"} <= set(line)
    assert line["suite"] == "ibisbench-dev" and line["tasks"] == 2 and line["exec_accuracy"] == 0.5
    assert (tmp_path / "report" / "report.html").read_text().startswith("<!doctype html>")


def test_cli_names_a_missing_replay_file(tmp_path, capsys):
    from ibert_jupyter.cli import main

    assert main(["eval", "--backend", "replay", "--suite", "ibisbench-dev"]) == 2
    assert "--replay FILE" in capsys.readouterr().err
