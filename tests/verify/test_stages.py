"""Verifier stages are a StrEnum: members in reports, the same strings in JSON, unknown names refused."""

from __future__ import annotations

import json

import ibis
import pytest

from ibert_jupyter.verify import STAGES, Stage, VerificationReport, default_pool, verify


@pytest.fixture(scope="module")
def tables():
    return {"t": ibis.table({"a": "int64", "s": "string"}, name="t")}


def test_stages_keep_their_order_and_wire_strings():
    assert list(STAGES) == ["parse", "sandbox", "build", "typecheck", "sql", "preview"]
    assert STAGES.index("build") < STAGES.index(Stage.SQL)


@pytest.mark.parametrize("code, stage", [("t.a +", "parse"), ("import os\nt", "sandbox"), ("t.nope", "build"),
                                         ("t.a.sum", "typecheck"), ("t.a.sum()", "sql")])
def test_reports_carry_stage_members_that_serialise_as_before(tables, code, stage):
    report = verify(code, tables)
    assert report.stage is Stage(stage) and report.stage == stage
    assert type(report.to_dict()["stage"]) is str  # dicts only at the JSON edge: plain data
    assert json.loads(json.dumps(report.to_dict()))["stage"] == stage
    assert stage in report.summary() or report.ok


def test_a_report_with_an_unknown_stage_is_refused():
    with pytest.raises(ValueError, match="'compile' is not a valid Stage"):
        VerificationReport(ok=False, stage="compile", code="t")


class _BrokenWorkerPool:
    """A real pool whose worker answers with a stage name the verifier never defined."""

    def __init__(self):
        self.pool = default_pool()
        self.isolation = self.pool.isolation

    def run(self, request, snapshot, timeout_s):
        return {**self.pool.run(request, snapshot, timeout_s), "ok": False, "stage": "rm -rf"}


def test_an_unknown_stage_from_the_worker_becomes_a_clear_failure(tables):
    report = verify("t.a.sum()", tables, pool=_BrokenWorkerPool())
    assert not report.ok and report.stage is Stage.BUILD and report.error_type == "WorkerError"
    assert "unknown stage 'rm -rf'" in report.message
