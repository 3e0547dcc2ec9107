"""The repair corpus written from real users' reports: sound, cited, split before the rules."""

from __future__ import annotations

import pytest

from ibert_jupyter.context.namespace import ibis_names
from ibert_jupyter.repair.reports_corpus import SPLIT_SEED, assign_splits, connect_shop, load_cells


def test_corpus_is_cited_and_split_by_the_recorded_seed():
    cells = load_cells()
    assert len(cells) >= 60
    assert all(c.source.startswith("https://") for c in cells)
    assert len({c.id for c in cells}) == len(cells)
    splits = assign_splits([c.id for c in cells], seed=SPLIT_SEED)
    assert all(c.split == splits[c.id] for c in cells)
    assert {c.split for c in cells} == {"dev", "test"}
    assert sum(c.rule_fixable for c in cells if c.split == "test") >= 20


@pytest.mark.slow
def test_every_broken_cell_fails_and_every_intended_program_runs():
    from ibert_jupyter.data import tpc
    from ibert_jupyter.evaluation.bench_repair_reports import live_error, namespace_for, run_cell

    cons = {"shop": connect_shop(), "tpch": tpc.connect("h", scale=0.01)}
    for cell in load_cells():
        assert live_error(cell.broken, namespace_for(cons[cell.db], cell.namespace)) is not None, cell.id
        run_cell(cell.intended, namespace_for(cons[cell.db], cell.namespace))


def test_repair_cell_counts_claims_in_the_cells_own_namespace():
    from ibert_jupyter.evaluation.bench_repair_reports import repair_cell

    con = connect_shop()
    cells = {c.id: c for c in load_cells()}
    row = repair_cell(cells["under-01"], con)  # `_` never imported in that notebook
    assert row["fixed"] and row["verified"] and not row["claimed_ok_but_fails"]


def test_ibis_names_counts_only_what_is_really_ibis():
    import ibis
    import ibis.selectors as s
    from ibis import _, desc

    assert ibis_names({"ibis": ibis, "_": _, "s": s, "desc": desc, "x": 1}) == {"ibis", "_", "s", "desc"}
    assert ibis_names({"_": "", "ibis": ibis}) == {"ibis"}  # IPython's last output is not Ibis's `_`
    assert ibis_names({"ibis": "not a module"}) == frozenset()
    with pytest.raises(TypeError, match="mapping"):
        ibis_names(["ibis"])
