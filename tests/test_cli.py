"""The `ibert` command line, run as a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys


def _ibert(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ibert_jupyter.cli", *args], capture_output=True, text=True, timeout=timeout
    )


def test_bench_verify_json_last_line(tmp_path):
    proc = _ibert("bench", "verify", "--json", "--repeat", "1")
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert {"queries", "verified", "median_ms", "p95_ms", "ibis_median_ms", "ratio"} <= set(result)
    assert result["queries"] == 22 and result["verified"] == 22
    assert result["median_ms"] > 0 and result["ibis_median_ms"] > 0


def test_bench_rejects_bad_arguments():
    proc = _ibert("bench", "verify", "--repeat", "0")
    assert proc.returncode == 2
    assert "--repeat must be at least 1" in proc.stderr


def test_unknown_command_is_a_usage_error():
    proc = _ibert("frobnicate")
    assert proc.returncode == 2
    assert "invalid choice" in proc.stderr
