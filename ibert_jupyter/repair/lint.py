"""Run the shipped Semgrep rules (Ibis idioms and anti-patterns) over notebook code.

Semgrep takes seconds to start, so callers lint a whole batch of cells in one run
(``lint_sources``), never one candidate at a time. It runs offline: version check and
metrics are off (otherwise it waits on the network for ~100 s).
"""

from __future__ import annotations

import importlib.resources
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ibert_jupyter.errors import Unavailable

SEMGREP_ENV = "IBERT_SEMGREP"
DEFAULT_TIMEOUT_S = 120


class SemgrepUnavailable(Unavailable):
    """The semgrep executable cannot be found or run; the message says how to get it."""


@dataclass(frozen=True)
class Finding:
    rule: str
    message: str
    severity: str
    line: int
    column: int
    end_line: int
    snippet: str

    def __str__(self) -> str:
        return f"line {self.line}: [{self.rule}] {self.message}"


def rules_path() -> Path:
    """The folder of Semgrep rule files shipped inside the package."""
    return Path(str(importlib.resources.files("ibert_jupyter.repair") / "rules"))


def semgrep_executable() -> str:
    """``$IBERT_SEMGREP``, the project's ``.venv-semgrep``, or ``semgrep`` on PATH."""
    configured = os.environ.get(SEMGREP_ENV)
    if configured:
        if not (Path(configured).is_file() and os.access(configured, os.X_OK)):
            raise SemgrepUnavailable(f"{SEMGREP_ENV}={configured} is not an executable file")
        return configured
    candidates = [
        Path(sys.prefix).parent / ".venv-semgrep" / "bin" / "semgrep",
        Path.cwd() / ".venv-semgrep" / "bin" / "semgrep",
    ]
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
    found = shutil.which("semgrep")
    if found:
        return found
    raise SemgrepUnavailable(
        "semgrep is not installed: run `bash scripts/install.sh` (creates .venv-semgrep) "
        f"or set {SEMGREP_ENV} to a semgrep executable"
    )


def _finding(raw: dict) -> Finding:
    extra = raw.get("extra", {})
    return Finding(
        rule=raw.get("check_id", "").rsplit(".", 1)[-1],
        message=extra.get("message", ""),
        severity=extra.get("severity", "INFO"),
        line=raw["start"]["line"],
        column=raw["start"]["col"],
        end_line=raw["end"]["line"],
        snippet=extra.get("lines", ""),
    )


def lint_sources(sources: list[str], rules: Path | None = None, timeout_s: float = DEFAULT_TIMEOUT_S) -> list[list[Finding]]:
    """Findings for each source, from ONE semgrep run over all of them."""
    if not sources:
        return []
    executable = semgrep_executable()
    config = Path(rules) if rules else rules_path()
    env = {**os.environ, "SEMGREP_ENABLE_VERSION_CHECK": "0", "SEMGREP_SEND_METRICS": "off"}
    with tempfile.TemporaryDirectory(prefix="ibert-lint-") as folder:
        paths = []
        for i, source in enumerate(sources):
            path = Path(folder) / f"cell_{i:05d}.py"
            path.write_text(source)
            paths.append(path)
        command = [
            executable, "scan", "--disable-version-check", "--metrics=off", "--quiet",
            "--config", str(config), "--json", "--no-git-ignore", folder,
        ]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, env=env, cwd=folder)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SemgrepUnavailable(f"semgrep could not run: {exc}") from exc
        try:
            payload = json.loads(done.stdout)
        except json.JSONDecodeError:
            raise SemgrepUnavailable(
                f"semgrep exited {done.returncode} without JSON output: {done.stderr.strip()[-500:]}"
            ) from None
        errors = [e for e in payload.get("errors", []) if e.get("level") == "error"]
        if errors:
            raise SemgrepUnavailable(f"semgrep reported: {errors[0].get('message', errors[0])}")
        by_file: dict[str, list[Finding]] = {Path(p).name: [] for p in paths}
        for raw in payload.get("results", []):
            by_file.setdefault(Path(raw["path"]).name, []).append(_finding(raw))
    return [sorted(by_file[p.name], key=lambda f: (f.line, f.column)) for p in paths]


def lint_code(source: str, rules: Path | None = None) -> list[Finding]:
    return lint_sources([source], rules)[0]
