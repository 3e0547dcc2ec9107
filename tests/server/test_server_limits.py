"""Request size limits (413) and an event loop that stays free while a 50 MB snapshot is parsed."""

from __future__ import annotations

import asyncio
import json
import sys
import time

import pytest
from tornado.httpclient import HTTPClientError

from ibert_jupyter.model.errors import ModelUnavailable
from tests.server.conftest import error_of


def _no_model():
    raise ModelUnavailable("no model in this test")


def _no_search(query, k):
    return []


@pytest.fixture
def jp_server_config(ibert_server_config):
    ibert_server_config["ServerApp"]["tornado_settings"] |= {"ibert_chat_model_provider": _no_model,
                                                            "ibert_chat_search": _no_search}
    return ibert_server_config


def big_snapshot(tables: int, columns: int = 200) -> dict:
    """A kernel with many wide tables (about 12 KB of JSON per table)."""
    cols = [{"name": f"measure_{i:03d}_{'x' * 16}", "type": "int64"} for i in range(columns)]
    entries = [{"variable": f"t{j}", "name": f"t{j}", "backend": "duckdb", "dialect": "duckdb", "bound": True,
                "columns": cols} for j in range(tables)]
    entries.append({"variable": "orders", "name": "orders", "backend": "duckdb", "dialect": "duckdb", "bound": True,
                    "columns": [{"name": "o_orderkey", "type": "int64"}, {"name": "o_totalprice", "type": "float64"}]})
    return {"version": 1, "backends": [], "tables": entries}


@pytest.mark.parametrize("jp_server_config", [{"ServerApp": {"jpserver_extensions": {"ibert_jupyter": True}},
                                               "IbertServer": {"max_snapshot_body_bytes": 1_000_000,
                                                               "max_small_body_bytes": 10_000}}])
async def test_bodies_over_the_limit_get_413_naming_the_limit(jp_fetch, jp_server_config):
    body = json.dumps({"question": "count orders", "snapshot": big_snapshot(150)})
    assert len(body) > 1_000_000
    for route in (("ibert", "chat"), ("ibert", "generate"), ("ibert", "complete")):
        with pytest.raises(HTTPClientError) as refused:
            await jp_fetch(*route, method="POST", body=body)
        assert refused.value.code == 413
        error = error_of(refused.value)
        assert error["type"] == "PayloadTooLarge"
        assert f"{len(body):,} bytes" in error["message"] and "at most 1,000,000 bytes" in error["message"]
    with pytest.raises(HTTPClientError) as small:
        await jp_fetch("ibert", "chat", "cancel", method="POST", body=json.dumps({"id": "x" * 20_000}))
    assert small.value.code == 413 and "at most 10,000 bytes" in error_of(small.value)["message"]
    # under the limit the same route works
    ok = await jp_fetch("ibert", "chat", method="POST", body=json.dumps({"question": "count orders"}))
    assert ok.code == 200


UPLOAD = """
import sys, httpx
with open(sys.argv[2], "rb") as body:
    response = httpx.post(sys.argv[1], content=body.read(), headers={"Authorization": sys.argv[3]}, timeout=300)
print(response.status_code)
print(response.text)
"""


@pytest.mark.slow
async def test_a_50mb_snapshot_does_not_stall_other_requests(server_url, jp_auth_header, jp_fetch, tmp_path):
    snapshot = big_snapshot(4200)
    path = tmp_path / "body.json"
    path.write_text(json.dumps({"question": "what is the total o_totalprice of orders?", "snapshot": snapshot}))
    del snapshot
    assert path.stat().st_size >= 50_000_000
    await jp_fetch("ibert", "model")  # warm: the first status call imports the model loader
    # the upload comes from another process, as a browser's would: this process is only the server
    upload = await asyncio.create_subprocess_exec(
        sys.executable, "-c", UPLOAD, f"{server_url}ibert/chat", str(path), jp_auth_header["Authorization"],
        stdout=asyncio.subprocess.PIPE)
    done = asyncio.ensure_future(upload.communicate())
    timings = []  # how long a request made at that moment waited: each probe, and each pause's overshoot
    while not done.done():
        started = time.perf_counter()
        response = await jp_fetch("ibert", "model")
        timings.append(time.perf_counter() - started)
        assert response.code == 200
        paused = time.perf_counter()
        await asyncio.sleep(0.01)
        timings.append(max(0.0, time.perf_counter() - paused - 0.01))  # the loop was busy past the pause
    status, text = (await done)[0].decode().split("\n", 1)
    assert status == "200", text[:500]
    answer = json.loads(text)
    assert answer["status"] == "model_unavailable"
    # the big request really was being worked on while we measured: many probes ran meanwhile
    assert len(timings) >= 20, timings
    ordered = sorted(timings)
    p50, p95 = ordered[len(ordered) // 2], ordered[int(len(ordered) * 0.95)]
    shown = f"{len(timings) // 2} requests and pauses: median {p50 * 1e3:.0f} ms, p95 {p95 * 1e3:.0f} ms, max {ordered[-1] * 1e3:.0f} ms"
    print(shown)
    # 100 ms, allowing 1 % of outliers to the OS scheduler of a shared 2-core box, none past 300 ms.
    # Parsing in a server thread instead (c.IbertServer.process_parse_bytes = 10**9) blocks for
    # ~0.7 s here: json.loads of the whole body is one C call that holds the GIL.
    assert p50 <= 0.100 and p95 <= 0.100, shown
    assert sum(t > 0.100 for t in timings) <= len(timings) // 100, shown
    assert ordered[-1] <= 0.300, shown
    # the prompt and verification use the tables the question is about, and the answer says so
    assert "orders" in answer["tables"] and len(answer["tables"]) == 30  # 6000 columns kept: 30 wide tables
    assert any("4201 Ibis tables" in notice for notice in answer["notices"])
