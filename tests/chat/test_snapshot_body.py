"""Request bodies with a schema snapshot: checks, and cutting many tables to the related ones."""

from __future__ import annotations

import json

import pytest

from ibert_jupyter.chat.snapshot import SnapshotBodyError, parse_snapshot_body, select_tables


def table(variable, columns):
    return {"variable": variable, "name": variable, "columns": [{"name": c, "type": "int64"} for c in columns]}


def test_small_snapshots_are_kept_whole():
    tables = [table("orders", ["o_orderkey"]), table("lineitem", ["l_quantity"])]
    body = parse_snapshot_body(json.dumps({"question": "count", "snapshot": {"tables": tables}}).encode(), ("question",))
    assert body.fields == {"question": "count"} and body.snapshot["tables"] == tables
    assert body.notice is None


def test_many_tables_are_cut_to_those_the_request_names_in_their_order():
    tables = [table(f"t{i}", [f"c{i}"]) for i in range(100)] + [table("orders", ["o_totalprice"])]
    tables.insert(3, table("customers", ["c_name", "o_totalprice"]))
    kept = select_tables(tables, "total o_totalprice of orders", max_tables=5)
    names = [t["variable"] for t in kept]
    assert len(names) == 5 and names.index("customers") < names.index("orders")
    assert {"orders", "customers"} <= set(names)
    body = parse_snapshot_body(json.dumps({"prompt": "orders", "snapshot": {"tables": tables}}).encode(), ("prompt",))
    assert body.total_tables == 102 and body.kept_tables == 40 and "102 Ibis tables" in body.notice


@pytest.mark.parametrize(("body", "fragment"), [
    (b"", "request body is empty"),
    (b"[1]", "must be a JSON object"),
    (b'{"snapshot": []}', "'snapshot' must be an object or null"),
    (b'{"snapshot": {"tables": {}}}', "'tables' list"),
    (b'{"snapshot": {"tables": [{"variable": "t", "columns": [{"name": 1, "type": "int64"}]}]}}',
     "'snapshot.tables[0]' is malformed: column #0"),
])
def test_malformed_bodies_name_the_problem(body, fragment):
    with pytest.raises(SnapshotBodyError, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        parse_snapshot_body(body)
