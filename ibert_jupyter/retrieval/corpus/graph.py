"""The symbol graph: definitions, references (who uses whom), inheritance, membership.

Built from Serena/solidlsp (pyright) when its venv is available; otherwise derived from the
AST (name matching, less precise) and the graph says so in ``source``. Two things come out
of it for retrieval: a structural prior (how much of Ibis refers to a symbol) and
neighbours for expanding hits at query time.
"""

from __future__ import annotations

import ast
import bisect
import builtins
import json
import math
import re
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from ibert_jupyter.retrieval.corpus.chunks import Chunk

EDGE_KINDS = ("member", "inherits", "references", "example_uses")


@dataclass
class SymbolGraph:
    """Edges between chunk ids plus per-symbol reference counts."""

    source: str  # "solidlsp+pyright" | "ast"
    edges: list[tuple[str, str, str]] = field(default_factory=list)  # (src, kind, dst)
    ref_counts: dict[str, int] = field(default_factory=dict)  # uses anywhere in ibis (incl. non-public code)
    note: str = ""
    stats: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._adj: dict[str, set[tuple[str, str]]] | None = None

    def adjacency(self) -> dict[str, set[tuple[str, str]]]:
        if self._adj is None:
            adj: dict[str, set[tuple[str, str]]] = defaultdict(set)
            for src, kind, dst in self.edges:
                adj[src].add((kind, dst))
                adj[dst].add((kind + "_by", src))
            self._adj = dict(adj)
        return self._adj

    def neighbours(self, symbol_id: str) -> list[tuple[str, str]]:
        """(relation, other id) pairs, e.g. ("member", class id) or ("references_by", caller id)."""
        return sorted(self.adjacency().get(symbol_id, ()))

    def prior(self, symbol_id: str) -> float:
        """Structural feature in [0, 1]: log-scaled count of references plus example uses."""
        top = self.stats.get("max_weight") or max(self._weights().values(), default=1)
        return math.log1p(self._weights().get(symbol_id, 0)) / math.log1p(max(top, 1))

    def example_use_counts(self) -> dict[str, int]:
        """How many example programs call each symbol."""
        counts: dict[str, int] = {}
        for _, kind, dst in self.edges:
            if kind == "example_uses":
                counts[dst] = counts.get(dst, 0) + 1
        return counts

    def _weights(self) -> dict[str, int]:
        if not hasattr(self, "_w"):
            w = dict(self.ref_counts)
            for symbol, uses in self.example_use_counts().items():
                w[symbol] = w.get(symbol, 0) + uses
            self._w = w
        return self._w

    def to_json(self) -> dict:
        return {"source": self.source, "edges": self.edges, "ref_counts": self.ref_counts, "note": self.note,
                "stats": self.stats}

    @classmethod
    def from_json(cls, data: dict) -> "SymbolGraph":
        return cls(source=data["source"], edges=[tuple(e) for e in data["edges"]],
                   ref_counts=dict(data["ref_counts"]), note=data.get("note", ""), stats=data.get("stats", {}))

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json()), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> "SymbolGraph":
        return cls.from_json(json.loads(path.read_text(encoding="utf-8")))


class _Locator:
    """Finds the innermost chunk whose line range encloses a (file, line)."""

    def __init__(self, chunks: list[Chunk]) -> None:
        self.by_file: dict[str, list[Chunk]] = defaultdict(list)
        for c in chunks:
            if c.kind != "example":
                self.by_file[c.file].append(c)
        for lst in self.by_file.values():
            lst.sort(key=lambda c: c.line)
        self.starts = {f: [c.line for c in lst] for f, lst in self.by_file.items()}

    def enclosing(self, file: str, line: int) -> Chunk | None:
        lst = self.by_file.get(file)
        if not lst:
            return None
        best = None
        for i in range(bisect.bisect_right(self.starts[file], line) - 1, -1, -1):
            c = lst[i]
            if c.line <= line <= c.end_line and (best is None or c.line > best.line):
                best = c
                if c.kind != "class":
                    break
        return best


def _structural_edges(chunks: list[Chunk]) -> list[tuple[str, str, str]]:
    return [(c.id, "member", c.parent) for c in chunks if c.parent]


_CALL_RE = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)\s*\(")
_ATTR_RE = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)\b")
_EXPR_CLASSES = ("Table", "Value", "Column", "Scalar", "GroupedTable", "Join")


def example_edges(chunks: list[Chunk]) -> list[tuple[str, str, str]]:
    """Example program -> methods/functions it calls, by name (``.group_by(`` -> *.group_by)."""
    by_name: dict[str, list[Chunk]] = defaultdict(list)
    for c in chunks:
        if c.kind in ("method", "property", "function") and not c.name.startswith("_"):
            by_name[c.name].append(c)
    edges = []
    for ex in (c for c in chunks if c.kind == "example"):
        for name in sorted(set(_ATTR_RE.findall(ex.doc))):
            targets = by_name.get(name, [])
            # prefer expression API methods when a name is defined on many classes
            preferred = [t for t in targets if t.parent and t.parent.rsplit(".", 1)[-1].endswith(_EXPR_CLASSES)]
            for t in (preferred or targets)[:4]:
                edges.append((ex.id, "example_uses", t.id))
    return edges


def graph_from_serena(chunks: list[Chunk], data: dict) -> SymbolGraph:
    """Map solidlsp's symbols/references/bases (0-based lines) onto chunk ids."""
    locator = _Locator(chunks)
    by_path = {(c.file, c.name_path): c for c in chunks}
    edges = _structural_edges(chunks)
    ref_counts: dict[str, int] = defaultdict(int)
    seen: set[tuple[str, str, str]] = set()
    unmatched = 0
    for ref in data["references"]:
        target = by_path.get(tuple(ref["target"]))
        if target is None:
            unmatched += 1
            continue
        ref_counts[target.id] += 1
        caller = locator.enclosing(ref["file"], ref["line"] + 1)
        if caller is not None and caller.id != target.id:
            edge = (caller.id, "references", target.id)
            if edge not in seen:
                seen.add(edge)
                edges.append(edge)
    for base in data["bases"]:
        cls = by_path.get(tuple(base["cls"]))
        target = locator.enclosing(base["base_file"], base["base_line"] + 1)
        if cls is not None and target is not None and target.kind == "class" and target.id != cls.id:
            edges.append((cls.id, "inherits", target.id))
    edges += example_edges(chunks)
    stats = dict(data.get("stats", {}))
    stats.update(references=len(data["references"]), unmatched_references=unmatched,
                 symbols_from_lsp=len(data["symbols"]))
    return SymbolGraph(source=data.get("tool", "solidlsp+pyright"), edges=edges, ref_counts=dict(ref_counts),
                       stats=stats)


def graph_from_ast(chunks: list[Chunk], root: Path, note: str = "") -> SymbolGraph:
    """Fallback graph: references and bases by name within the public modules (no type information)."""
    by_name: dict[str, list[Chunk]] = defaultdict(list)
    classes: dict[str, Chunk] = {}
    for c in chunks:
        if c.kind != "example":
            by_name[c.name].append(c)
            if c.kind == "class":
                classes.setdefault(c.name, c)
    locator = _Locator(chunks)
    edges = _structural_edges(chunks)
    ref_counts: dict[str, int] = defaultdict(int)
    seen: set[tuple[str, str, str]] = set()
    for file in sorted(locator.by_file):
        tree = ast.parse((root.parent / file).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            name = node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else None
            if not name or name not in by_name or len(by_name[name]) > 6 or hasattr(builtins, name):
                continue  # unknown, or too ambiguous to attribute by name alone
            caller = locator.enclosing(file, node.lineno)
            for target in by_name[name]:
                ref_counts[target.id] += 1
                if caller is not None and caller.id != target.id:
                    edge = (caller.id, "references", target.id)
                    if edge not in seen:
                        seen.add(edge)
                        edges.append(edge)
    for c in chunks:
        for base in c.bases:
            target = classes.get(base.split("[")[0].rsplit(".", 1)[-1])
            if target is not None and target.id != c.id:
                edges.append((c.id, "inherits", target.id))
    edges += example_edges(chunks)
    return SymbolGraph(source="ast", edges=edges, ref_counts=dict(ref_counts), note=note)


def build_graph(chunks: list[Chunk], root: Path, *, work_dir: Path, prefer: str = "serena",
                raw_cache: Path | None = None) -> SymbolGraph:
    """Serena graph when ``prefer == "serena"`` and it works; the AST graph otherwise (with the reason).

    ``raw_cache`` keeps solidlsp's raw answer (the slow part) so later builds only re-map it.
    """
    if prefer == "serena":
        from ibert_jupyter.retrieval.corpus.serena_runner import SerenaUnavailable, run_serena_graph

        if raw_cache is not None and raw_cache.exists():
            data = json.loads(raw_cache.read_text(encoding="utf-8"))
            graph = graph_from_serena(chunks, data)
            graph.stats["cached"] = True
            return graph
        files = sorted({c.file for c in chunks if c.kind != "example"})
        try:
            data = run_serena_graph(root, files, work_dir=work_dir)
        except SerenaUnavailable as exc:
            note = f"solidlsp unavailable, AST graph used instead: {exc}"
            print(f"warning: {note}", file=sys.stderr)
            return graph_from_ast(chunks, root, note=note)
        if raw_cache is not None:
            raw_cache.parent.mkdir(parents=True, exist_ok=True)
            raw_cache.write_text(json.dumps(data), encoding="utf-8")
        return graph_from_serena(chunks, data)
    return graph_from_ast(chunks, root, note="AST graph requested")
