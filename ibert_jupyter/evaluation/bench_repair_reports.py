"""The reports half of ``ibert bench repair``: cells from real users' reports, run as a notebook would.

Each cell runs in its own namespace (tables, ``ibis``, and ``_`` only where the notebook
imported it), its live error is captured as the kernel would capture it, and the repair is
called exactly as ``%ibert_fix --no-model`` calls it (tables found in the namespace, helpers,
``provided=ibis_names(namespace)``). The proposed fix is then run *in that namespace* and its
result compared with the intended program's.
"""

from __future__ import annotations

import ast
import statistics
import sys
import time
import traceback
from typing import Any

CELL_FILENAME = "<report-cell>"


def namespace_for(con, namespace_kind: str) -> dict[str, Any]:
    import ibis

    ns: dict[str, Any] = {"ibis": ibis, "_": ibis._ if namespace_kind == "full" else ""}
    for name in con.list_tables():
        ns[name] = con.table(name)
    return ns


def run_cell(code: str, ns: dict[str, Any]):
    """Run a cell like IPython: statements, then the value of the last expression, executed."""
    tree = ast.parse(code, filename=CELL_FILENAME)
    last = tree.body[-1] if tree.body else None
    body = tree.body[:-1] if isinstance(last, ast.Expr) else tree.body
    exec(compile(ast.Module(body, []), CELL_FILENAME, "exec"), ns)  # noqa: S102 - benchmark cells
    if not isinstance(last, ast.Expr):
        target = last.targets[-1] if isinstance(last, ast.Assign) else None
        value = ns.get(target.id) if isinstance(target, ast.Name) else None
    else:
        value = eval(compile(ast.Expression(last.value), CELL_FILENAME, "eval"), ns)  # noqa: S307
    return value.execute() if hasattr(value, "execute") else value


def live_error(code: str, ns: dict[str, Any]) -> tuple[str, str, int | None] | None:
    try:
        run_cell(code, ns)
    except SyntaxError as exc:
        return type(exc).__name__, exc.msg, exc.lineno
    except Exception as exc:  # noqa: BLE001 - the broken cell's error is the input
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == CELL_FILENAME]
        return type(exc).__name__, str(exc), frames[-1].lineno if frames else None
    return None


def repair_cell(cell, con) -> dict[str, Any]:
    """Repair one report cell as the magic would; the outcome as a JSON-ready dict."""
    from ibert_jupyter.context import find_tables
    from ibert_jupyter.context.namespace import helpers_for, ibis_names
    from ibert_jupyter.repair import RepairStatus, repair
    from ibert_jupyter.results_equal import as_frame, results_equal

    ns = namespace_for(con, cell.namespace)
    error = live_error(cell.broken, ns)
    out: dict[str, Any] = {"id": cell.id, "kind": cell.kind, "rule_fixable": cell.rule_fixable}
    if error is None:
        out.update(status="broken-cell-runs", fixed=False)
        return out
    ns = namespace_for(con, cell.namespace)
    result = repair(cell.broken, find_tables(ns), helpers=helpers_for(cell.broken, ns), error=error,
                    provided=ibis_names(ns))
    out.update(status=str(result.status), confidence=result.confidence and str(result.confidence), ms=result.elapsed_ms,
               rules=[step.rule for step in result.steps])
    expected = as_frame(run_cell(cell.intended, namespace_for(con, cell.namespace)))
    claimed = result.fixed_code if result.fixed_code is not None else (cell.broken if result.status == RepairStatus.ALREADY_OK else None)
    equal = runs = False
    if claimed is not None:
        try:
            got = as_frame(run_cell(claimed, namespace_for(con, cell.namespace)))
            runs = True
            equal = results_equal(expected, got, names=True).equal
        except Exception as exc:  # noqa: BLE001 - a claim that fails is what we count
            out["claim_error"] = f"{type(exc).__name__}: {str(exc)[:160]}"
    out.update(
        proposed=claimed is not None,
        runs=runs,
        fixed=bool(result.fixed_code is not None and equal),
        verified=result.verified,
        verified_wrong=bool(result.verified and not equal),
        claimed_ok_but_fails=bool(claimed is not None and not runs),
    )
    return out


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    fixable = [r for r in rows if r["rule_fixable"]]
    fixed_fixable = sum(r["fixed"] for r in fixable)
    ms = [r["ms"] for r in rows if r.get("fixed") and "ms" in r]
    all_ms = [r["ms"] for r in rows if "ms" in r]
    return {
        "cells": len(rows),
        "rule_fixable": len(fixable),
        "fixed_rule_fixable": fixed_fixable,
        "fixed_ratio_rule_fixable": round(fixed_fixable / len(fixable), 4) if fixable else None,
        "fixed_all": sum(r["fixed"] for r in rows),
        "verified": sum(r.get("verified", False) for r in rows),
        "runs_check": sum(1 for r in rows if r.get("confidence") == "check"),
        "verified_wrong": sum(r.get("verified_wrong", False) for r in rows),
        "claimed_ok_but_fails": sum(r.get("claimed_ok_but_fails", False) for r in rows),
        "median_ms_per_fix": round(statistics.median(ms), 1) if ms else None,
        "median_ms_per_cell": round(statistics.median(all_ms), 1) if all_ms else None,
        "not_fixed": [r["id"] for r in fixable if not r["fixed"]],
    }


def run_reports(split: str = "all", verbose: bool = False) -> dict[str, Any]:
    from ibert_jupyter.data import tpc
    from ibert_jupyter.repair.reports_corpus import SPLIT_SEED, connect_shop, load_cells

    t0 = time.perf_counter()
    cons = {"shop": connect_shop(), "tpch": tpc.connect("h", scale=0.01)}
    cells = load_cells()
    splits = ("dev", "test") if split == "all" else (split,)
    out: dict[str, Any] = {"corpus": "repair_reports", "split_seed": SPLIT_SEED}
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover
        def tqdm(items, **_):
            return items
    for name in splits:
        rows = []
        for cell in tqdm([c for c in cells if c.split == name], desc=f"repair reports/{name}", file=sys.stderr):
            row = repair_cell(cell, cons[cell.db])
            rows.append(row)
            if verbose:
                print({k: v for k, v in row.items() if k != "kind"}, file=sys.stderr, flush=True)
        out[name] = summarize(rows)
    out["seconds"] = round(time.perf_counter() - t0, 1)
    return out
