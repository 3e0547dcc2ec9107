"""Symbol graph of a Python package through Serena's solidlsp + pyright; runs in Serena's venv.

Serena pins conflict with iBERT's environment, so this file is executed by Serena's own
interpreter as a plain script (it imports nothing from ibert_jupyter). It prints progress to
stderr and writes one JSON document:

    {"tool": "solidlsp+pyright", "symbols": [...], "references": [...], "bases": [...], "stats": {...}}

* symbols: every document symbol of the given files (name path, kind, file, 0-based lines);
* references: for classes, functions and methods, where pyright finds them used
  (file + line of the use); the caller enclosing a use is resolved by the parent process;
* bases: for each class, the definition location pyright gives for every base-class name.
"""

from __future__ import annotations

import argparse
import ast
import json
import logging
import os
import sys
import time

KINDS = {5: "class", 6: "method", 7: "property", 9: "method", 12: "function"}  # LSP SymbolKind -> our kind
KEPT_DUNDERS = {"__getitem__", "__getattr__", "__call__"}


def _log(msg: str) -> None:
    print(f"[serena-graph] {msg}", file=sys.stderr, flush=True)


def _create_server(root: str, pyright_langserver: str, data_dir: str):
    from solidlsp.ls import SolidLanguageServer
    from solidlsp.ls_config import LanguageServerConfig, LanguageServerId
    from solidlsp.settings import SolidLSPSettings

    settings = SolidLSPSettings(
        solidlsp_dir=os.path.join(data_dir, "solidlsp"),
        project_data_path=os.path.join(data_dir, "project"),
        ls_specific_settings={"python": {"ls_path": pyright_langserver}},
    )
    config = LanguageServerConfig(ls_id=LanguageServerId.PYTHON, ignored_paths=["**/tests/**"])
    return SolidLanguageServer.create(config, root, timeout=120.0, solidlsp_settings=settings)


def _walk(symbols, parents=()):
    for sym in symbols:
        yield sym, parents
        yield from _walk(sym.get("children") or [], (*parents, sym["name"]))


def _base_name_positions(source: str) -> dict[int, list[tuple[int, int]]]:
    """class line (0-based) -> positions (line, col) of the last dotted part of each base."""
    out: dict[int, list[tuple[int, int]]] = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ClassDef):
            spots = []
            for base in node.bases:
                if isinstance(base, ast.Subscript):  # Generic[T], Value[dt.X]
                    base = base.value
                if isinstance(base, ast.Name):
                    spots.append((base.lineno - 1, base.col_offset))
                elif isinstance(base, ast.Attribute) and base.end_col_offset is not None:
                    spots.append((base.end_lineno - 1, base.end_col_offset - len(base.attr)))
            out[node.lineno - 1] = spots
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", required=True, help="workspace root (contains the package)")
    parser.add_argument("--files", required=True, help="file with one relative path per line")
    parser.add_argument("--out", required=True)
    parser.add_argument("--pyright", required=True, help="path of pyright-langserver")
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--references", choices=["all", "classes", "none"], default="all")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

    with open(args.files, encoding="utf-8") as fh:
        files = [line.strip() for line in fh if line.strip()]
    t0 = time.perf_counter()
    ls = _create_server(args.root, args.pyright, args.data_dir)
    symbols: list[dict] = []
    references: list[dict] = []
    bases: list[dict] = []
    n_requests = 0
    with ls.start_server_context():
        t_start = time.perf_counter() - t0
        _log(f"pyright started in {t_start:.1f}s; {len(files)} files")
        for i, rel in enumerate(files, 1):
            doc = ls.request_document_symbols(rel)
            with open(os.path.join(args.root, rel), encoding="utf-8") as fh:
                class_bases = _base_name_positions(fh.read())
            for sym, parents in _walk(doc.root_symbols):
                kind = KINDS.get(int(sym["kind"]))
                if kind is None:
                    continue
                sel = sym.get("selectionRange") or sym["location"]["range"]
                rng = sym.get("range") or sym["location"]["range"]
                name_path = "/".join((*parents, sym["name"]))
                line, col = sel["start"]["line"], sel["start"]["character"]
                symbols.append(
                    {
                        "name_path": name_path,
                        "kind": kind,
                        "file": rel,
                        "line": rng["start"]["line"],
                        "name_line": line,
                        "end_line": rng["end"]["line"],
                    }
                )
                public = not sym["name"].startswith("_") or sym["name"] in KEPT_DUNDERS
                want_refs = public and (args.references == "all" or (args.references == "classes" and kind == "class"))
                if want_refs:
                    n_requests += 1
                    for loc in ls.request_references(rel, line, col):
                        if loc.get("relativePath"):
                            references.append(
                                {
                                    "target": [rel, name_path],
                                    "file": loc["relativePath"],
                                    "line": loc["range"]["start"]["line"],
                                }
                            )
                if kind == "class":
                    for bline, bcol in class_bases.get(line, []):
                        n_requests += 1
                        for loc in ls.request_definition(rel, bline, bcol):
                            if loc.get("relativePath"):
                                bases.append(
                                    {
                                        "cls": [rel, name_path],
                                        "base_file": loc["relativePath"],
                                        "base_line": loc["range"]["start"]["line"],
                                    }
                                )
            if i % 10 == 0 or i == len(files):
                _log(f"{i}/{len(files)} files, {len(symbols)} symbols, {n_requests} requests, {time.perf_counter() - t0:.0f}s")
    stats = {"files": len(files), "seconds": round(time.perf_counter() - t0, 2), "startup_seconds": round(t_start, 2),
             "requests": n_requests}
    with open(args.out, "w", encoding="utf-8") as fh:
        json.dump({"tool": "solidlsp+pyright", "symbols": symbols, "references": references, "bases": bases,
                   "stats": stats}, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
