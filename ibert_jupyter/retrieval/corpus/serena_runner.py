"""Run Serena's solidlsp (pyright) over the installed ibis, in Serena's own virtualenv.

Serena pins conflict with iBERT's environment, so ``serena_graph_script.py`` is executed by
the Serena interpreter as a subprocess and hands back JSON. Pyright analyses a copy of the
ibis package without its tests, so the workspace is small and imports of ``ibis.*`` resolve.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from ibert_jupyter.errors import Unavailable

SERENA_PYTHON_ENV = "IBERT_SERENA_PYTHON"
SCRIPT = Path(__file__).with_name("serena_graph_script.py")


class SerenaUnavailable(Unavailable):
    """Serena's venv, pyright or node is missing, or the language server failed."""


def serena_python() -> Path:
    """Serena's interpreter: ``$IBERT_SERENA_PYTHON`` or ``.venv-serena`` next to the checkout."""
    override = os.environ.get(SERENA_PYTHON_ENV)
    if override:
        if not Path(override).exists():
            raise SerenaUnavailable(f"{SERENA_PYTHON_ENV}={override} does not exist")
        return Path(override)
    here = Path(__file__).resolve()
    candidates = [p / ".venv-serena" / "bin" / "python" for p in (Path.cwd(), *here.parents)]
    for candidate in candidates:
        if candidate.exists():
            return candidate
    raise SerenaUnavailable(
        f"no Serena interpreter found (set {SERENA_PYTHON_ENV} or run scripts/install.sh to create .venv-serena)"
    )


def _pyright_langserver(python: Path) -> Path:
    exe = python.parent / "pyright-langserver"
    if not exe.exists():
        raise SerenaUnavailable(f"pyright-langserver is not installed next to {python}")
    if shutil.which("node") is None:
        raise SerenaUnavailable("pyright needs node on PATH (e.g. /usr/bin/node)")
    return exe


def _copy_package(src: Path, workspace: Path) -> None:
    ignore = shutil.ignore_patterns("tests", "__pycache__", "*.pyc")
    shutil.copytree(src, workspace / src.name, ignore=ignore)


def run_serena_graph(
    package_dir: Path,
    rel_files: list[str],
    *,
    work_dir: Path,
    references: str = "all",
    timeout: float = 1200.0,
) -> dict:
    """Symbols, references and base classes of ``rel_files`` (relative to package_dir.parent)."""
    python = serena_python()
    langserver = _pyright_langserver(python)
    work_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work_dir, prefix="serena-") as tmp:
        tmp_path = Path(tmp)
        workspace = tmp_path / "ws"
        _copy_package(package_dir, workspace)
        files_list = tmp_path / "files.txt"
        files_list.write_text("\n".join(rel_files), encoding="utf-8")
        out = tmp_path / "graph.json"
        cmd = [
            str(python), "-I", str(SCRIPT), "--root", str(workspace), "--files", str(files_list), "--out", str(out),
            "--pyright", str(langserver), "--data-dir", str(tmp_path / "solidlsp"), "--references", references,
        ]
        env = {**os.environ, "PATH": f"{python.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
        env.pop("PYTHONPATH", None)
        try:
            proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=None if _tty_ok() else subprocess.PIPE,
                                  timeout=timeout, env=env, cwd=tmp, text=True)
        except subprocess.TimeoutExpired as exc:
            raise SerenaUnavailable(f"solidlsp did not finish within {timeout:.0f}s") from exc
        if proc.returncode != 0 or not out.exists():
            tail = (proc.stderr or "")[-2000:]
            raise SerenaUnavailable(f"solidlsp exited with {proc.returncode}: {tail}")
        return json.loads(out.read_text(encoding="utf-8"))


def _tty_ok() -> bool:
    """Let the subprocess's progress lines through to our stderr (never to stdout)."""
    return os.environ.get("IBERT_QUIET") != "1" and sys.stderr is sys.__stderr__
