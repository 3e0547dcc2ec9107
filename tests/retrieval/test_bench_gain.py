"""The retrieval bench's gain and its bootstrap interval over the queries."""

from __future__ import annotations

import pytest

from ibert_jupyter.evaluation.bench_retrieval import gain_interval
from ibert_jupyter.evaluation.stats import paired_bootstrap_ci


def test_a_constant_difference_has_no_spread():
    assert paired_bootstrap_ci([0.5, 1.0, 0.25], [0.25, 0.75, 0.0]) == (0.25, 0.25)


def test_interval_brackets_the_mean_difference_and_narrows_with_more_queries():
    few_a, few_b = [1.0] * 6 + [0.0] * 4, [0.0] * 10
    many_a, many_b = few_a * 20, few_b * 20
    low, high = paired_bootstrap_ci(few_a, few_b)
    assert low < 0.6 < high
    low_many, high_many = paired_bootstrap_ci(many_a, many_b)
    assert low_many < 0.6 < high_many
    assert high_many - low_many < (high - low) / 2  # 20x the queries: about 1/sqrt(20) the width


def test_interval_is_reproducible_for_a_seed():
    a, b = [1.0, 0.0, 1.0, 1.0, 0.0], [0.0, 0.0, 1.0, 0.0, 1.0]
    assert paired_bootstrap_ci(a, b, seed=3) == paired_bootstrap_ci(a, b, seed=3)


@pytest.mark.parametrize(("a", "b", "kwargs", "message"), [
    ([1.0, 0.0], [1.0], {}, "equal lengths, got 2 and 1"),
    ([], [], {}, "empty"),
    ([1.0], [0.0], {"level": 1.5}, "level must be in"),
])
def test_bad_samples_are_named(a, b, kwargs, message):
    with pytest.raises(ValueError, match=message):
        paired_bootstrap_ci(a, b, **kwargs)


def _rows(recalls: list[float]) -> list[dict[str, float]]:
    return [{"recall_at_5": r} for r in recalls]


def test_gain_is_over_the_better_single_retriever():
    rows = {"bm25": _rows([1, 0, 0, 0]), "dense": _rows([1, 1, 0, 0]), "hybrid_graph": _rows([1, 1, 1, 0])}
    gain = gain_interval(rows)
    assert gain["over"] == "dense" and gain["points"] == 25.0
    low, high = gain["ci95_points"]
    assert 0.0 <= low <= 25.0 <= high <= 100.0
    rows["bm25"] = _rows([1, 1, 1, 0])  # now BM25 is the better one and the gain vanishes
    assert gain_interval(rows) == {"over": "bm25", "points": 0.0, "ci95_points": [0.0, 0.0]}
