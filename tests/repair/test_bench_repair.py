"""The repair benchmark: corpus built from the TPC-H reference queries, JSON contract."""

from __future__ import annotations

import json

import pytest

from ibert_jupyter.cli import main
from ibert_jupyter.repair.mutations import MUTATORS, build_corpus
from ibert_jupyter.results_equal import results_equal


def test_corpus_has_at_least_eight_classes_of_real_failures(tpch_con):
    mutants, _ = build_corpus(tpch_con, seed=0)
    classes = {m.error_class for m in mutants}
    assert len(classes) >= 8 and classes <= set(MUTATORS)
    assert len({m.query for m in mutants}) >= 15


@pytest.mark.slow
def test_bench_json_line(capsys):
    assert main(["bench", "repair", "--json", "--corpus", "tpch", "--per-class", "3"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    tpch = result["tpch"]
    assert 0.0 <= tpch["deterministic_fixed_ratio"] <= 1.0
    for stats in tpch["classes"].values():
        assert stats["fixed"] <= stats["broken"] <= 3 and stats["verified"] <= stats["broken"]
        assert stats["verified_wrong"] == 0
    assert tpch["deterministic_fixed_ratio"] >= 0.8


def test_fix_results_are_compared_strictly_about_values_and_names():
    import pandas as pd

    a = pd.DataFrame({"x": [1.0, 2.0]})
    assert results_equal(a, pd.DataFrame({"x": [2.0, 1.0]}), names=True)
    assert not results_equal(a, pd.DataFrame({"x": [1.0, 2.5]}), names=True)
    assert not results_equal(a, pd.DataFrame({"y": [1.0, 2.0]}), names=True)
