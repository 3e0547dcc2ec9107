"""The layers contract (.importlinter) holds, and fails when code imports upward.

Runs import-linter on the real package, then on a copy with a planted upward import, a
planted Jupyter import in the core and a planted cycle, each of which must break a contract.
Also: the README's layout table lists exactly the tree's packages.
"""

from __future__ import annotations

import configparser
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "ibert_jupyter"
LINT = "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports(config_filename=sys.argv[1], no_cache=True, no_logo=True))"


def _lint(root: Path) -> subprocess.CompletedProcess:
    """``lint-imports`` on the package found under ``root`` (it comes first on the path)."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([sys.executable, "-c", LINT, str(root / ".importlinter")], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120)


def test_contract_is_kept():
    run = _lint(ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout


def _copy_package(dest: Path) -> None:
    """The package's Python files and the contract (data files are not imports)."""
    shutil.copytree(ROOT / PACKAGE, dest / PACKAGE,
                    ignore=lambda d, names: [n for n in names if not (n.endswith(".py") or (Path(d) / n).is_dir())
                                             or n == "__pycache__"])
    shutil.copy(ROOT / ".importlinter", dest / ".importlinter")


def _plant(module: Path, line: str) -> None:
    module.write_text(module.read_text() + f"\n\ndef _planted():\n    {line}\n")


def test_planted_upward_imports_break_the_contract(tmp_path):
    _copy_package(tmp_path)
    pkg = tmp_path / PACKAGE
    _plant(pkg / "sql" / "render.py", "import ibert_jupyter.jupyter")
    _plant(pkg / "verify" / "report.py", "import ibert_jupyter.evaluation")
    _plant(pkg / "context" / "tables.py", "import IPython")
    (pkg / "planted_a.py").write_text("import ibert_jupyter.planted_b\n")
    (pkg / "planted_b.py").write_text("def later():\n    import ibert_jupyter.planted_a\n")
    run = _lint(tmp_path)
    out = " ".join(run.stdout.split())  # import-linter wraps long lines
    assert run.returncode == 1, out + run.stderr
    assert "ibert_jupyter.sql.render -> ibert_jupyter.jupyter" in out
    assert "ibert_jupyter.verify.report -> ibert_jupyter.evaluation" in out
    assert "ibert_jupyter.context.tables -> IPython" in out
    assert "planted_a" in out and "planted_b" in out  # the cycle
    assert "0 kept, 3 broken" in out


def _contract() -> configparser.ConfigParser:
    config = configparser.ConfigParser()
    config.read(ROOT / ".importlinter")
    return config


def _tree_packages() -> set[str]:
    """Every package under ibert_jupyter, as README paths: ``ibert_jupyter/retrieval/rank/``."""
    return {f"{p.parent.relative_to(ROOT).as_posix()}/" for p in (ROOT / PACKAGE).rglob("__init__.py")
            if "__pycache__" not in p.parts and p.parent != ROOT / PACKAGE}


def test_every_top_level_package_has_a_layer():
    layers = _contract()["importlinter:contract:layers"]["layers"]
    named = set(re.findall(r"\w+", layers))
    top = {p.split("/")[1] for p in _tree_packages()}
    assert top <= named, f"place these packages in .importlinter's layers: {sorted(top - named)}"


LAYOUT_ROW = re.compile(r"^\|\s*`?(ibert_jupyter/[\w/]*?)/?`?\s*\|", re.MULTILINE)


def layout_packages(readme: str) -> set[str]:
    """Package paths in the first cell of the README's layout table rows."""
    return {f"{path}/" for path in LAYOUT_ROW.findall(readme)}


def test_layout_rows_are_parsed():
    readme = "| path | what |\n|---|---|\n| `ibert_jupyter/retrieval/rank/` | ranking |\n| ibert_jupyter/cli | commands |\n| `tests/` | x |\n"
    assert layout_packages(readme) == {"ibert_jupyter/retrieval/rank/", "ibert_jupyter/cli/"}


def test_readme_layout_table_matches_the_tree():
    listed = layout_packages((ROOT / "README.md").read_text())
    assert listed, "README.md has no layout table (rows whose first cell is `ibert_jupyter/<package>/`)"
    tree = _tree_packages()
    assert not tree - listed, f"packages missing from README's layout table: {sorted(tree - listed)}"
    assert not listed - tree, f"README's layout table lists packages that do not exist: {sorted(listed - tree)}"
