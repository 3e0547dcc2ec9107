"""`ibert bench e2e` runs on a CPU with a tiny RANDOM Devstral (the GPU run uses Devstral's shape)."""

from __future__ import annotations

import json

import pytest


@pytest.mark.slow
def test_bench_e2e_reports_every_stage_on_cpu(tiny_devstral_weights, capsys, monkeypatch, tmp_path):
    from ibert_jupyter.cli import main

    monkeypatch.setenv("IBERT_DATA_DIR", str(tmp_path))  # no retrieval index: docs are optional
    monkeypatch.setenv("IBERT_LOG_DB", str(tmp_path / "log.sqlite"))
    rc = main(["bench", "e2e", "--model", str(tiny_devstral_weights), "--device", "cpu", "--n", "2",
               "--new-tokens", "8", "--repeats", "1", "--json", "--out", str(tmp_path / "e2e.json")])
    assert rc == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {"stages_ms", "total_ms", "decode_one_ms", "ratio"} <= set(line)
    assert set(line["stages_ms"]) == {"request", "prompt", "decode", "verify"}
    assert all(v >= 0 for v in line["stages_ms"].values())
    assert line["total_ms"] >= line["stages_ms"]["decode"] > 0 and line["decode_one_ms"] > 0
    assert line["ratio"] == pytest.approx(line["total_ms"] / line["decode_one_ms"], rel=1e-2)
    assert line["verify_real_programs_ms"] > 0 and "random" in line["note"]
    assert json.loads((tmp_path / "e2e.json").read_text())["total_ms"] == line["total_ms"]
