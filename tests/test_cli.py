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


def test_status_reads_as_text_for_people_and_json_for_scripts(tmp_path):
    import os

    env = {**os.environ, "IBERT_DATA_DIR": str(tmp_path), "IBERT_MODEL": str(tmp_path / "no-model")}
    people = subprocess.run([sys.executable, "-m", "ibert_jupyter.cli", "status"], capture_output=True, text=True,
                            timeout=120, env=env)
    assert people.returncode == 0, people.stderr[-2000:]
    text = people.stdout
    assert text.startswith("iBERT ") and "Ibis " in text.splitlines()[0]
    assert "Model   ✗ unavailable" in text and "Index   ✗ not built" in text
    assert "\\n" not in text and "{" not in text  # no raw JSON, no escaped newlines
    assert "run `ibert index` to build it" in text
    scripts = subprocess.run([sys.executable, "-m", "ibert_jupyter.cli", "status", "--json"], capture_output=True,
                             text=True, timeout=120, env=env)
    status = json.loads(scripts.stdout)
    assert status["model"]["status"] == "unavailable" and status["index"]["status"] == "missing"


_IMPORTED_AFTER = """
import json, sys
from ibert_jupyter.cli import build_parser
build_parser({argv!r})
print(json.dumps(sorted(m for m in sys.modules if m.startswith(("ibert_jupyter", "torch", "numpy", "ibis", "duckdb")))))
"""


def _modules_after_build_parser(argv: list[str]) -> set[str]:
    proc = subprocess.run([sys.executable, "-c", _IMPORTED_AFTER.format(argv=argv)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return set(json.loads(proc.stdout))


def test_command_modules_load_only_when_their_command_runs():
    from ibert_jupyter.cli import BENCHMARKS, COMMANDS

    # every table entry names a real module of the cli package (commands) or evaluation (benchmarks)
    assert all(module.startswith("ibert_jupyter.cli.") for module, _ in COMMANDS.values())
    assert all(module.startswith("ibert_jupyter.evaluation.bench_") for module, _ in BENCHMARKS.values())
    bare = _modules_after_build_parser([])
    assert not {m for m in bare if m.startswith(("ibert_jupyter.cli.", "ibert_jupyter.evaluation"))}
    assert not {m for m in bare if m.split(".")[0] in ("torch", "numpy", "ibis", "duckdb")}
    search = _modules_after_build_parser(["search"])
    assert "ibert_jupyter.cli.search" in search
    assert not {m for m in search if m.startswith("ibert_jupyter.cli.") and m != "ibert_jupyter.cli.search"}
