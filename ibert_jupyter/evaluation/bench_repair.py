"""``ibert bench repair``: repair broken cells from two corpora and compare results.

* ``reports``: 90 cells written from real Ibis users' reports (``evaluation/data/repair_reports``),
  split dev/test before any rule was written; each has the program its author meant. A cell
  counts as *fixed* when the proposed fix (verified, or "runs — check") returns the intended
  result in the cell's own namespace. ``verified_wrong`` counts fixes shown as verified whose
  result differs; ``claimed_ok_but_fails`` counts fixes (or "verifies as is" verdicts) that
  fail when run where they would be applied.
* ``tpch``: the mutation corpus: each mutator (``repair/mutations.py``) injects one kind of
  mistake into the 22 Ibis TPC-H reference queries; a mutant is *broken* only if the verifier
  rejects it and *fixed* only if the fix's full result equals the reference query's result.

"Equals" is ``ibert_jupyter.results_equal`` with column names counted (a fix must give the user
the frame the intended code gives).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings

from ibert_jupyter.repair.mutations import MUTATORS, Mutant, build_corpus  # noqa: F401  (re-exported)
from ibert_jupyter.results_equal import as_frame, results_equal


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print only the JSON result line on stdout")
    parser.add_argument("--scale", type=float, default=0.01, help="TPC-H scale factor (default 0.01)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the mutation sites")
    parser.add_argument("--per-class", type=int, default=None, help="at most this many mutants per class")
    parser.add_argument("--lint", action="store_true", help="also run the Semgrep rules once over the corpus")
    parser.add_argument("--corpus", choices=("all", "reports", "tpch"), default="all", help="which corpus to run (default: both)")
    parser.add_argument("--split", choices=("all", "dev", "test"), default="all", help="reports corpus split (default: both, reported separately)")
    parser.add_argument("--verbose", action="store_true", help="log every reports-corpus cell's outcome on stderr")


def run(args: argparse.Namespace) -> int:
    warnings.simplefilter("ignore")
    t0 = time.perf_counter()
    result: dict = {"benchmark": "repair", "model": "none (deterministic rules only)"}
    if args.corpus in ("all", "reports"):
        from ibert_jupyter.evaluation.bench_repair_reports import run_reports

        result["reports"] = run_reports(split=args.split, verbose=args.verbose)
    if args.corpus in ("all", "tpch"):
        result["tpch"] = run_mutations(args)
        # kept at the top level for the README's existing figure
        result["deterministic_fixed_ratio"] = result["tpch"]["deterministic_fixed_ratio"]
    result["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(result))
    return 0


def run_mutations(args: argparse.Namespace) -> dict:
    from ibert_jupyter.data import tpc
    from ibert_jupyter.repair import repair

    warnings.simplefilter("ignore")
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    t0 = time.perf_counter()
    con = tpc.connect("h", scale=args.scale)
    mutants, helpers = build_corpus(con, seed=args.seed, per_class=args.per_class)
    log(f"corpus: {len(mutants)} broken mutants of 22 TPC-H queries in {time.perf_counter() - t0:.1f} s")
    references = {q.number: q for q in tpc.reference_queries("h")}
    expected: dict[int, object] = {}
    per_class: dict[str, dict] = {name: {"broken": 0, "fixed": 0, "verified": 0, "verified_wrong": 0, "ms": []} for name in MUTATORS}
    failures = []
    for i, mutant in enumerate(mutants, 1):
        query = references[mutant.query]
        tables = {name: con.table(name) for name in query.tables}
        if mutant.query not in expected:
            from ibert_jupyter.verify import verify

            ref = verify(query.code, tables, helpers=helpers)
            expected[mutant.query] = as_frame(con.execute(ref.expression))
        stats = per_class[mutant.error_class]
        stats["broken"] += 1
        result = repair(mutant.code, tables, helpers=helpers)
        stats["ms"].append(result.elapsed_ms)
        equal = False
        if result.runs:
            equal = results_equal(expected[mutant.query], as_frame(con.execute(result.report.expression)), names=True).equal
        if result.verified:
            stats["verified"] += 1
            stats["verified_wrong"] += int(not equal)
        stats["fixed"] += int(equal)
        if not equal:
            failures.append({"class": mutant.error_class, "query": mutant.query, "status": str(result.status),
                             "diagnosis": result.diagnosis.kind if result.diagnosis else None})
        if i % 25 == 0:
            log(f"{i}/{len(mutants)} repaired")
    lint_summary = None
    if args.lint:
        from ibert_jupyter.repair.lint import SemgrepUnavailable, lint_sources

        t_lint = time.perf_counter()
        try:
            findings = lint_sources([m.code for m in mutants])
            lint_summary = {"seconds": round(time.perf_counter() - t_lint, 2),
                            "flagged": {name: sum(1 for m, f in zip(mutants, findings) if f and m.error_class == name) for name in MUTATORS}}
        except SemgrepUnavailable as exc:
            lint_summary = {"error": f"semgrep unavailable: {exc}"}
    classes = {
        name: {"broken": s["broken"], "fixed": s["fixed"], "verified": s["verified"],
               "verified_wrong": s["verified_wrong"], "median_ms": round(statistics.median(s["ms"]), 1) if s["ms"] else None}
        for name, s in per_class.items()
    }
    broken = sum(c["broken"] for c in classes.values())
    fixed = sum(c["fixed"] for c in classes.values())
    for failure in failures[:20]:
        log(f"not fixed: {failure}")
    all_ms = [ms for s in per_class.values() for ms in s["ms"]]
    result = {
        "suite": "tpch",
        "scale": args.scale,
        "seed": args.seed,
        "classes": classes,
        "broken": broken,
        "fixed": fixed,
        "verified_wrong": sum(c["verified_wrong"] for c in classes.values()),
        "deterministic_fixed_ratio": round(fixed / broken, 4) if broken else 0.0,
        "median_ms_per_cell": round(statistics.median(all_ms), 1) if all_ms else None,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    if lint_summary is not None:
        result["lint"] = lint_summary
    return result
