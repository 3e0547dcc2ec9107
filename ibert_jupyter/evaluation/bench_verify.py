"""``ibert bench verify``: verifier latency per TPC-H reference query vs Ibis alone.

Both sides start from the same source text and the same bound DuckDB tables:
* ibis alone: compile + exec the code with full Python in this process, then ``ibis.to_sql``;
* iBERT: ``verify()`` — ships the code to an isolated verifier worker (warm pool) that runs
  parse, sandbox check, build on unbound tables, type-check and to_sql — no preview.
Runs are interleaved per query so machine noise hits both sides alike. The JSON's
``isolation`` says what the worker ran under (namespaces, Landlock, seccomp, limits).
"""

from __future__ import annotations

import json
import sys
import time

from ibert_jupyter.evaluation.stats import median, percentile
from ibert_jupyter.verify.verifier import bind_result


def add_arguments(parser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    parser.add_argument("--repeat", type=int, default=7, help="timed runs per query and side")
    parser.add_argument("--scale", type=float, default=0.01, help="TPC-H scale factor of the data")


def _ibis_alone(code: str, tables: dict, helpers: dict) -> str:
    """Plain Python + Ibis: compile and run the cell, take its last expression, to_sql."""
    import ast

    import ibis

    tree, name = bind_result(ast.parse(code))
    namespace = {"ibis": ibis, **helpers, **tables}
    exec(compile(tree, "<ibis-alone>", "exec"), namespace)  # noqa: S102 - trusted reference code
    return str(ibis.to_sql(namespace[name], dialect="duckdb"))


def run(args) -> int:
    from tqdm import tqdm

    from ibert_jupyter.data import tpc
    from ibert_jupyter.verify import verify
    from ibert_jupyter.verify.pool import default_pool

    if args.repeat < 1:
        print("--repeat must be at least 1", file=sys.stderr)
        return 2
    con = tpc.connect("h", scale=args.scale)
    pool = default_pool()
    pool.warm()
    helpers = tpc.reference_helpers()
    queries = tpc.reference_queries("h")
    ours, theirs, verified, failures = [], [], 0, []
    for query in tqdm(queries, desc="verify bench", file=sys.stderr):
        tables = {name: con.table(name) for name in query.tables}
        report = verify(query.code, tables, helpers=helpers)  # warm-up, and the verdict
        _ibis_alone(query.code, tables, helpers)
        if report.ok:
            verified += 1
        else:
            failures.append(f"{query.name}: {report.summary()}")
        q_ours, q_theirs = [], []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            verify(query.code, tables, helpers=helpers)
            q_ours.append((time.perf_counter() - t0) * 1e3)
            t0 = time.perf_counter()
            _ibis_alone(query.code, tables, helpers)
            q_theirs.append((time.perf_counter() - t0) * 1e3)
        ours.append(median(q_ours))
        theirs.append(median(q_theirs))
    result = {
        "queries": len(queries),
        "verified": verified,
        "median_ms": round(median(ours), 3),
        "p95_ms": round(percentile(ours, 95), 3),
        "ibis_median_ms": round(median(theirs), 3),
        "ibis_p95_ms": round(percentile(theirs, 95), 3),
        "ratio": round(median(ours) / median(theirs), 3),
        "repeat": args.repeat,
        "pool_size": pool.size,
        "worker_restarts": pool.restarts,
        "isolation": pool.isolation.to_dict(),
    }
    for failure in failures:
        print(f"not verified: {failure}", file=sys.stderr)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            if key == "isolation":
                print(f"{key:>16}: {pool.isolation.summary()}")
            else:
                print(f"{key:>16}: {value}")
    return 0 if verified == len(queries) else 1
