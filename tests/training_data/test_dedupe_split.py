"""Exact and near-duplicate removal, and splits that no near-twin crosses."""

from __future__ import annotations

import itertools
import random

import pytest

from ibert_jupyter.training.data import dedupe, splitting
from ibert_jupyter.training.data.programs import Generator, column_stats
from ibert_jupyter.training.data.schemas import all_schemas, connect


def test_exact_key_ignores_layout_only():
    assert dedupe.exact_key("t.filter(t.a > 1)\n") == dedupe.exact_key("t.filter(t.a  > 1)")
    assert dedupe.exact_key("t.filter(t.a > 1)") != dedupe.exact_key("t.filter(t.a > 2)")


def test_near_duplicates_catch_one_changed_constant_and_keep_different_programs():
    base = 'orders.filter(orders.Status == "Shipped", orders.OrderDate >= ibis.date("2024-01-01")).select("OrderID", "CustomerID", "Status").order_by("OrderID")'
    twin = base.replace("2024-01-01", "2024-02-01")
    other = 'events.group_by("page").agg(n=_.count(), users=_.user_id.nunique()).order_by(ibis.desc("n"))'
    twins = dedupe.near_duplicates([base, other, twin], threshold=0.8)
    assert twins == {2: 0}
    assert dedupe.jaccard(base, twin) >= 0.7 and dedupe.jaccard(base, other) < 0.2


def test_split_assignment_is_seeded_stable_and_proportional():
    groups = [f"s|t{i}" for i in range(2000)]
    a, b = splitting.assign(groups, 0), splitting.assign(groups[::-1], 0)
    assert a == b
    share = {s: sum(v == s for v in a.values()) / len(a) for s in splitting.SPLITS}
    assert 0.85 < share["train"] < 0.95 and 0.03 < share["test"] < 0.07
    assert splitting.assign(groups, 1) != a


@pytest.mark.slow
def test_no_near_twin_crosses_splits_in_a_built_dataset(built):
    from ibert_jupyter.training.data import load_splits

    folder, _ = built
    programs = {}
    for split, ds in load_splits(folder).items():
        for row in ds:
            programs.setdefault(row["program_id"], (split, row["code"], f"{row['schema']}|{row['template']}"))
            assert programs[row["program_id"]][0] == split  # every rendering of a program on one side
    by_group = {}
    for split, _, group in programs.values():
        by_group.setdefault(group, set()).add(split)
    assert all(len(s) == 1 for s in by_group.values())
    items = list(programs.values())
    crossing = [(a[1], b[1]) for a, b in itertools.combinations(items, 2)
                if a[0] != b[0] and dedupe.jaccard(a[1], b[1]) >= 0.8]
    assert crossing == []


def test_generator_is_deterministic_per_seed():
    schema = all_schemas()[1]
    con, _ = connect(schema, 0)
    stats = column_stats(con.con, schema)
    runs = []
    for _ in range(2):
        gen, rng = Generator(schema, stats), random.Random(11)
        runs.append([p.code if p else None for _, p in (gen.generate(rng) for _ in range(30))])
    assert runs[0] == runs[1] and len({c for c in runs[0] if c}) > 20


def test_bad_size_is_a_clear_error(capsys):
    from ibert_jupyter.cli import main

    assert main(["data", "build", "--out", "/nonexistent/x", "--size", "huge"]) == 2
    assert "unknown --size 'huge'" in capsys.readouterr().err


def test_random_ibis_identifiers_in_recorded_sql_are_numbered():
    """Ibis names memtables/unnest columns/lambda args randomly; recorded SQL must be reproducible."""
    import ibis

    from ibert_jupyter.training.data.gates import stable_names

    t = ibis.memtable({"x": [[1, 2], [3]]})
    sqls = {stable_names(ibis.to_sql(t.select(v=t.x.unnest()).filter(lambda r: r.v > 1), dialect="duckdb")) for _ in range(2)}
    assert len(sqls) == 1 and "memtable_0" in sqls.pop()


def test_unusable_tokenizer_and_output_folder_are_clear_errors(tmp_path, capsys):
    from ibert_jupyter.cli import main

    bad = tmp_path / "tekken.json"
    bad.write_text("{not json")
    assert main(["data", "build", "--out", str(tmp_path / "o"), "--tokenizer", str(bad)]) == 2
    assert "is not a usable tekken.json" in capsys.readouterr().err
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["data", "build", "--out", str(blocker / "sub")]) == 2
    assert "cannot write to --out" in capsys.readouterr().err
