"""Decontamination drops lightly reworded benchmark material planted among generated examples."""

from __future__ import annotations

import json
import random

from ibert_jupyter.data import tpc
from ibert_jupyter.training.data import tasks
from ibert_jupyter.training.data.build import BuildConfig, select
from ibert_jupyter.training.data.decontam import Decontaminator, Item, benchmark_items
from ibert_jupyter.training.data.gates import Rejections
from ibert_jupyter.training.data.schemas import all_schemas, connect
from ibert_jupyter.training.data.programs import Generator, column_stats

SNAP = tasks.snapshot({"lineitem": {"l_quantity": "float64"}})


def _example(task, messages, code, pid):
    return {"id": pid, "task": task, "source": "generator", "schema": "event_log", "template": f"t:{pid}",
            "program_id": pid, "messages": messages, "code": code, "broken_code": ""}


def _generated(n=40):
    schema = all_schemas()[0]
    con, _ = connect(schema, 0)
    gen = Generator(schema, column_stats(con.con, schema))
    rng = random.Random(5)
    out = []
    while len(out) < n:
        _, p = gen.generate(rng)
        if p is not None:
            out.append(_example("nl2ibis", tasks.nl2ibis("a request", SNAP, p.code, (), rng), p.code, f"g{len(out)}"))
    return out


def _reworded_tpch_q1() -> str:
    """TPC-H Q1 as someone retyped it: lower case, other aliases, one word changed, new layout."""
    sql = tpc.sql_text("h", 1)
    sql = sql.lower().replace("sum_qty", "total_quantity").replace("avg_price", "mean_price")
    sql = sql.replace("order by", "order  by").replace("\n", " ")
    return "-- pricing summary\n" + " ".join(sql.split())


def test_planted_tpch_query_is_dropped(tmp_path):
    planted_sql = _reworded_tpch_q1()
    planted = _example("sql2ibis", tasks.sql2ibis(planted_sql, SNAP, "lineitem.count()\n", random.Random(0)),
                       "lineitem.count()\n", "planted")
    examples = _generated() + [planted]
    rejections = Rejections()
    kept, info = select(examples, BuildConfig(tmp_path, eval_dir=tmp_path / "none"), rejections, progress=False)
    ids = {e["id"] for e in kept}
    assert "planted" not in ids
    assert rejections.by_stage["decontaminate"] >= 1
    assert any(reason.startswith("decontaminate: tpch-q01") for reason in rejections.by_reason)
    assert info["recheck"] == 0
    assert len(ids) >= 30  # ordinary generated programs survive


def test_planted_reworded_benchmark_request_is_dropped(tmp_path):
    """An IbisBench-style task file under the eval folder (contract D) is globbed and enforced."""
    bench = tmp_path / "ibisbench"
    bench.mkdir()
    task = {"id": "bike-007", "split": "test", "request": "Which five stations had the most trips started on weekends in June?",
            "gold_code": "Trips.filter(Trips.StartedAt.month() == 6).group_by(\"StartStation\").agg(n=_.count())\n"}
    (bench / "bikes.jsonl").write_text(json.dumps(task) + "\n")
    reworded = "Which 5 stations had the most trips started on weekends during June?"
    planted = _example("nl2ibis", tasks.nl2ibis(reworded, SNAP, "lineitem.count()\n", (), random.Random(0)), "lineitem.count()\n", "planted")
    rejections = Rejections()
    kept, _ = select(_generated() + [planted], BuildConfig(tmp_path, eval_dir=tmp_path), rejections, progress=False)
    assert "planted" not in {e["id"] for e in kept}
    assert rejections.by_reason["decontaminate: bikes.jsonl"] == 1


def test_rule_needs_most_of_an_item_not_a_stock_phrase():
    d = Decontaminator([Item("q", "How many trips were taken on electric bikes last month?")], )
    assert d.match("how many trips were taken on electric bikes in the last month") is not None
    assert d.match("How many orders were taken last month?") is None
    assert d.match("electric bikes") is None


def test_default_items_cover_every_eval_file_and_tpc():
    from ibert_jupyter.training.data.decontam import evaluation_dir, repository_benchmark_dir

    sources = {i.source.split(":")[0] for i in benchmark_items()}
    for path in evaluation_dir().rglob("*.jsonl"):
        assert path.name in sources
    # the checkout-only suites (ClickBench) are decontaminated against too
    for path in repository_benchmark_dir().rglob("*.sql"):
        assert path.name in sources
    assert "queries_duckdb.sql" in sources
    assert {"tpch-q01.sql", "tpch-q01.py", "tpcds-q01.sql"} <= sources
