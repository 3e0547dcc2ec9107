"""``ibert bench sql2ibis``: SQL→Ibis conversion on TPC-H / TPC-DS, checked by execution.

For every query of the suite (SQL from the ibis wheel, data from the DuckDB extension
wheels) both converters run in the same process on the same data:
* ours: ``sql_to_ibis`` → sandboxed ``verify`` → execute → compare rows with the SQL's own;
* baseline: ``ibis.parse_sql`` + ``ibis.decompile`` → exec the decompiled code → same compare.
``median_ms`` is our median conversion time (SQL text to code).
"""

from __future__ import annotations

import json
import sys
import time

from ibert_jupyter.evaluation.stats import median, percentile


def add_arguments(parser) -> None:
    parser.add_argument("--suite", default="tpch", choices=["tpch", "tpcds"], help="query suite")
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    parser.add_argument("--scale", type=float, default=0.01, help="TPC scale factor of the data")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per query execution")
    parser.add_argument("--queries", default="", help="comma-separated query numbers (default: all)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the parse_sql baseline")


def baseline(sql: str, con, catalog: dict, timeout_s: float) -> tuple[bool, bool, bool, str]:
    """(converted, ran, matched, message) for ibis.parse_sql + ibis.decompile."""
    import ibis

    from ibert_jupyter.sql.transpile.checked import run_and_compare

    try:
        code = ibis.decompile(ibis.parse_sql(sql, catalog))
    except Exception as exc:  # noqa: BLE001 - the baseline failing is the measurement
        return False, False, False, f"convert: {type(exc).__name__}: {exc}"[:300]
    try:
        namespace: dict = {}
        exec(compile(code, "<decompiled>", "exec"), namespace)  # noqa: S102 - ibis's own output
        expr = namespace["result"]
        comparison = run_and_compare(con, sql, expr, "duckdb", timeout_s)
    except Exception as exc:  # noqa: BLE001
        return True, False, False, f"run: {type(exc).__name__}: {exc}"[:300]
    return True, True, comparison.equal, comparison.reason


def run(args) -> int:
    from tqdm import tqdm

    from ibert_jupyter.data import tpc
    from ibert_jupyter.sql.transpile.checked import convert_and_check

    suite = tpc.normalize_suite(args.suite)
    queries = tpc.sql_queries(suite)
    if args.queries:
        wanted = {int(q) for q in args.queries.split(",")}
        queries = {n: q for n, q in queries.items() if n in wanted}
    con = tpc.connect(suite, scale=args.scale)
    catalog = {name: con.get_schema(name) for name in con.list_tables()}
    counts = dict(converted=0, ran=0, matched=0)
    base = dict(converted=0, ran=0, matched=0)
    times, failures, base_failures = [], {}, {}
    for number, sql in tqdm(queries.items(), desc=f"sql2ibis {args.suite}", file=sys.stderr):
        t0 = time.perf_counter()
        outcome = convert_and_check(sql, con, timeout_s=args.timeout, catalog=catalog)
        if outcome.conversion is not None:
            times.append(outcome.conversion.elapsed_ms)
        else:
            times.append((time.perf_counter() - t0) * 1e3)
        for key in counts:
            counts[key] += int(getattr(outcome, key))
        if not outcome.matched:
            failures[number] = f"{outcome.stage}: {outcome.message}"[:300]
        if not args.no_baseline:
            converted, ran, matched, message = baseline(sql, con, catalog, args.timeout)
            base["converted"] += converted
            base["ran"] += ran
            base["matched"] += matched
            if not matched:
                base_failures[number] = message
    for number, why in failures.items():
        print(f"q{number:02d}: {why}", file=sys.stderr)
    result = {
        "suite": args.suite,
        "total": len(queries),
        **counts,
        "median_ms": round(median(times), 3),
        "p95_ms": round(percentile(times, 95), 3),
        "baseline_converted": base["converted"] if not args.no_baseline else None,
        "baseline_ran": base["ran"] if not args.no_baseline else None,
        "baseline_matched": base["matched"] if not args.no_baseline else None,
        "scale": args.scale,
        "failures": {f"q{n:02d}": why for n, why in failures.items()},
    }
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key}: {value}")
    return 0
