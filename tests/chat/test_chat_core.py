"""ibert_jupyter.chat core: request validation, segment splitting, answer() degradation and verification."""

from __future__ import annotations

import json

import ibis
import pytest

from ibert_jupyter.chat import ChatRequestError, answer, parse_chat_request
from ibert_jupyter.chat.segments import split_segments
from ibert_jupyter.context import schema_snapshot
from ibert_jupyter.model.base import Completion
from ibert_jupyter.model.errors import ModelUnavailable
from ibert_jupyter.retrieval.errors import IndexUnavailable


@pytest.fixture
def snapshot():
    orders = ibis.table({"o_orderkey": "int64", "o_custkey": "int64", "o_totalprice": "float64"}, name="orders")
    return json.loads(json.dumps(schema_snapshot({"orders": orders})))


def symbol_search(query: str, k: int):
    """A real (tiny) search: Table methods whose names occur in the query, as dict hits."""
    words = set(query.lower().replace("?", " ").split())
    names = [n for n in dir(ibis.expr.types.Table) if not n.startswith("_") and n in words]
    return [{"public_name": f"Table.{n}", "kind": "method", "signature": "(...)",
             "summary": (getattr(ibis.expr.types.Table, n).__doc__ or "").strip().split("\n")[0]} for n in names[:k]]


class ScriptedModel:
    """Implements the ChatModel protocol; replies with fixed text and records the prompt it saw."""

    name = "scripted"

    def __init__(self, reply: str):
        self.reply = reply
        self.requests = []

    def generate(self, request, on_token=None):
        self.requests.append(request)
        return [Completion(self.reply)]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"", "empty"),
        (b"{nope", "not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b'{"snapshot": null}', "'question' is required"),
        (b'{"question": "   "}', "'question' is empty"),
        (b'{"question": "q", "snapshot": 5}', "'snapshot' must be an object or null"),
        (b'{"question": "q", "snapshot": {"tables": [{"columns": []}]}}', "snapshot.tables[0]"),
        (b'{"question": "q", "temperature": 1}', "unknown field(s) in chat request: temperature"),
        (json.dumps({"question": "x" * 5000}).encode(), "limit is 4000"),
    ],
)
def test_bad_requests_name_the_problem(body, fragment):
    with pytest.raises(ChatRequestError) as err:
        parse_chat_request(body)
    assert fragment in str(err.value)


def test_good_request_is_trimmed():
    request = parse_chat_request(b'{"question": "  count rows  ", "snapshot": null}')
    assert request.question == "count rows" and request.snapshot is None


def test_split_segments_keeps_order_and_languages():
    segments = split_segments("Use group_by:\n```python\nt.group_by('a')\n```\nthen\n~~~sql\nSELECT 1\n~~~\n```\nx = 1")
    assert [(s.kind, s.language) for s in segments] == [
        ("text", None), ("code", "python"), ("text", None), ("code", "sql"), ("code", "python")
    ]
    assert segments[1].text == "t.group_by('a')"
    assert segments[4].text == "x = 1"  # an unterminated fence runs to the end


def test_answer_builds_prompt_from_tables_and_symbols_and_verifies_code(snapshot):
    model = ScriptedModel(
        "Aggregate per customer:\n"
        "```python\norders.group_by('o_custkey').agg(total=orders.o_totalprice.sum())\n```\n"
        "Not like this:\n```python\norders.group_by('customer').agg(n=orders.count())\n```"
    )
    result = answer("how do I group_by customer and aggregate?", snapshot, lambda: model, symbol_search)

    prompt = model.requests[0].messages[-1]["content"]
    assert "o_totalprice: float64" in prompt and "Table.group_by" in prompt
    assert result.status == "answered" and result.model == "scripted" and result.tables == ["orders"]
    assert "Table.group_by" in [s["public_name"] for s in result.symbols]
    good, bad = [s for s in result.segments if s["kind"] == "code"]
    assert good["verification"]["ok"] is True
    assert "orders" in " ".join(good["verification"]["verified_against"])
    assert bad["verification"]["ok"] is False and "customer" in bad["verification"]["message"]


def test_model_unavailable_still_returns_symbols(snapshot):
    def no_model():
        raise ModelUnavailable("no Devstral weights found; run `ibert model download`")

    result = answer("how do I filter and then aggregate?", snapshot, no_model, symbol_search)
    assert result.status == "model_unavailable"
    assert result.text.startswith("The model is unavailable: no Devstral weights found")
    assert {"Table.filter", "Table.aggregate"} <= {s["public_name"] for s in result.symbols}


def test_index_unavailable_is_a_notice_not_a_failure():
    def no_index(query, k):
        raise IndexUnavailable("no retrieval index; build it with `ibert index`")

    model = ScriptedModel("Use `Table.count()`.")
    result = answer("count rows", None, lambda: model, no_index)
    assert result.status == "answered" and result.symbols == []
    assert result.notices == ["API index unavailable: no retrieval index; build it with `ibert index`"]
    assert "No Ibis tables are defined" in model.requests[0].messages[-1]["content"]


def test_code_without_tables_is_marked_unverified():
    result = answer("count rows", None, lambda: ScriptedModel("```python\nt.count()\n```"), lambda q, k: [])
    assert result.segments[0]["verification"] is None
    assert any("not verified" in n for n in result.notices)
