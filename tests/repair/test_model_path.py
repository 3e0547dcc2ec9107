"""The model path: prompt contents, and model answers verified like any other candidate."""

from __future__ import annotations

import dataclasses

import pytest

from ibert_jupyter.model.base import Completion, GenerationRequest
from ibert_jupyter.repair import RepairStatus, repair
from ibert_jupyter.repair.llm import build_repair_prompt, extract_code, model_repair


class ScriptedModel:
    """Test fake standing in for Devstral: replays fixed answers, records requests."""

    name = "scripted-test-fake"

    def __init__(self, answers):
        self.answers = answers
        self.requests: list[GenerationRequest] = []

    def generate(self, request, on_token=None):
        self.requests.append(request)
        return [Completion(text) for text in self.answers[: request.n]]


BROKEN = "orders.select(orders.o_total.frobnicate_widely(3))"


def test_prompt_holds_code_error_and_schemas(tables):
    result = repair(BROKEN, tables)
    messages = build_repair_prompt(BROKEN, result.diagnosis, "Traceback ... AttributeError", tables, ["Value.round(digits)"], result.attempts)
    user = messages[-1]["content"]
    assert BROKEN in user and "frobnicate_widely" in user
    assert '"o_total"' in user and "decimal" in user.lower() or "float64" in user
    assert "Value.round(digits)" in user and "Traceback" in user


def test_model_answer_is_verified_before_it_is_offered(con, tables):
    bad = "```python\norders.select(orders.o_total.still_not_a_method())\n```\nRenamed."
    good = "```python\norders.select(orders.o_total.abs())\n```\nUsed abs()."
    model = ScriptedModel([bad, good])
    result = model_repair(repair(BROKEN, tables), tables, model, n=2)
    assert result.status == "model-fixed" and result.runs
    assert not result.verified and result.confidence == "check"  # a model's answer is a guess
    assert "abs()" in result.fixed_code
    assert [a.ok for a in result.attempts[-2:]] == [False, True]
    assert model.requests[0].n == 2


def test_model_answers_that_do_not_verify_are_not_offered(tables):
    model = ScriptedModel(["```python\norders.nope()\n```", "no code at all"])
    result = model_repair(repair(BROKEN, tables), tables, model, n=2)
    assert not result.runs and result.fixed_code is None
    assert "did not run" in result.explanation()


def test_model_repair_returns_a_copy_and_leaves_the_rules_result_alone(tables):
    rules_result = repair(BROKEN, tables)
    before = dataclasses.astuple(rules_result)
    good = "```python\norders.select(orders.o_total.abs())\n```\nUsed abs()."
    result = model_repair(rules_result, tables, ScriptedModel([good]), n=1)
    assert result is not rules_result and result.status == RepairStatus.MODEL_FIXED == "model-fixed"
    assert dataclasses.astuple(rules_result) == before  # the rules' result is a value: unchanged
    assert rules_result.status == RepairStatus.UNFIXED and rules_result.fixed_code is None
    assert result.attempts[: len(rules_result.attempts)] == rules_result.attempts
    assert len(result.attempts) == len(rules_result.attempts) + 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        rules_result.status = RepairStatus.FIXED


def test_extract_code():
    assert extract_code("x\n```python\nt.a\n```\n") == "t.a\n"
    assert extract_code("nothing") is None
