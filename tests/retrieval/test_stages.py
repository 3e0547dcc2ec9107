"""Retrieval's sub-packages import in one direction, lazy imports inside functions included.

Read from the source with ``ast`` (nothing is imported), so a planted upward import fails here
whether it sits at the top of a module or inside a function.
"""

from __future__ import annotations

import ast
from pathlib import Path

import ibert_jupyter.retrieval as retrieval

ROOT = Path(retrieval.__file__).parent
# stage -> the stages it may import; the top-level modules (paths, errors, __init__) are shared
ALLOWED = {
    "corpus": set(),
    "encode": set(),
    "index": {"corpus", "encode"},
    "rank": {"corpus", "encode", "index"},
    "tuning": {"corpus", "encode", "index", "rank"},
}
OUTSIDE_CORE = ("ibert_jupyter.evaluation", "ibert_jupyter.training", "ibert_jupyter.cli", "ibert_jupyter.jupyter")


def imported_modules(source: str) -> set[str]:
    """Every ``ibert_jupyter`` module a file imports, at any depth (``from a import b`` gives ``a.b`` too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {n for n in names if n.startswith("ibert_jupyter.")}


def stage_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[2] if len(parts) > 3 and parts[:2] == ["ibert_jupyter", "retrieval"] and parts[2] in ALLOWED else None


def stage_edges(root: Path) -> set[tuple[str, str, str]]:
    """(importing stage, imported stage, file) for every cross-stage import under ``root``."""
    edges = set()
    for path in root.rglob("*.py"):
        rel = path.relative_to(root).parts
        here = rel[0] if len(rel) > 1 and rel[0] in ALLOWED else None
        for module in imported_modules(path.read_text(encoding="utf-8")):
            there = stage_of(module)
            if here and there and there != here:
                edges.add((here, there, "/".join(rel)))
    return edges


def upward(edges: set[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    return sorted(e for e in edges if e[1] not in ALLOWED[e[0]])


def test_stages_import_only_lower_stages():
    assert upward(stage_edges(ROOT)) == []


def test_a_planted_upward_import_is_found(tmp_path):
    planted = tmp_path / "retrieval"
    (planted / "corpus").mkdir(parents=True)
    (planted / "corpus" / "chunks.py").write_text("def f():\n    from ibert_jupyter.retrieval.rank import ranking\n")
    assert upward(stage_edges(planted)) == [("corpus", "rank", "corpus/chunks.py")]


def test_the_encoders_do_not_import_each_other_both_ways():
    dense = imported_modules((ROOT / "encode" / "dense.py").read_text(encoding="utf-8"))
    query = imported_modules((ROOT / "encode" / "query_encoder.py").read_text(encoding="utf-8"))
    assert "ibert_jupyter.retrieval.encode.dense" not in query
    assert "ibert_jupyter.retrieval.encode.query_encoder" in dense  # the one direction that remains


def test_retrieval_imports_nothing_above_the_core():
    found = {(str(p.relative_to(ROOT)), m) for p in ROOT.rglob("*.py")
             for m in imported_modules(p.read_text(encoding="utf-8")) if m.startswith(OUTSIDE_CORE)}
    assert found == set()
