"""``ibert bench sql2ibis``: SQL→Ibis conversion on TPC-H, TPC-DS and ClickBench, checked by execution.

TPC SQL comes from the ibis wheel and its data from the DuckDB extension wheels; ClickBench's
43 public queries, as written for DuckDB and for PostgreSQL (``benchmarks/data/clickbench/*.sql`` in the repository,
source and licence cited there), run over its real Mixed-Case ``hits`` schema filled with
synthetic rows. For every query both converters run in the same process on the same data:
* ours: ``sql_to_ibis`` → sandboxed ``verify`` → execute → compare rows with the SQL's own;
* baseline: ``ibis.parse_sql`` + ``ibis.decompile`` → exec the decompiled code → same compare.
``median_ms`` is our median conversion time (SQL text to code).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from ibert_jupyter.errors import Unavailable
from ibert_jupyter.evaluation.stats import median, percentile


# -- the ClickBench suite: public SQL over a Mixed-Case schema, synthetic rows ----------------
# ClickBench's files are CC BY-NC-SA 4.0: they stay in the repository (benchmarks/data), out of
# the Apache-2.0 wheel, so these suites run from a checkout only.
CLICKBENCH_DIR = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "clickbench"
CLICKBENCH_QUERIES = CLICKBENCH_DIR / "queries_duckdb.sql"
CLICKBENCH_POSTGRES_QUERIES = CLICKBENCH_DIR / "queries_postgres.sql"
CLICKBENCH_CREATE = CLICKBENCH_DIR / "create.sql"


class ClickBenchUnavailable(Unavailable, FileNotFoundError):
    """The ClickBench files ship with the repository only (their licence is not iBERT's)."""
CLICKBENCH_ROWS = 50_000

# Value pools for the text columns the queries filter or group on; every other column gets a
# small hashed range of its own type. Some strings are not ASCII, as in the real data, so
# byte and character lengths differ.
_URLS = [
    "http://www.google.com/search?q=ibis", "https://www.google.ru/maps", "http://news.example.org/sport/1",
    "https://example.org/news/today.html", "http://yandex.ru/video/film", "https://shop.example.com/cart",
    "http://пример.рф/новости", "https://www.example.com/", "", "http://mail.ru/inbox?id=7",
]
_TITLES = ["Google News", "Яндекс", "video of the day", "", "Google Maps – directions", "sport results",
           "error page", "Shop: cart", "Новости спорта"]
_PHRASES = ["", "", "", "ibis duckdb", "погода", "google maps", "cheap flights 2013", "news", "film 42"]
_MODELS = ["", "", "iPhone", "iPad", "Galaxy S4", "Lumia"]
_POOLS = {
    "URL": _URLS, "Referer": _URLS, "OriginalURL": _URLS, "Title": _TITLES, "SearchPhrase": _PHRASES,
    "MobilePhoneModel": _MODELS, "BrowserCountry": ["", "RU", "US", "DE"], "BrowserLanguage": ["", "ru", "en"],
}
_SPECIAL = {  # columns the queries test against fixed constants: make those values frequent
    "CounterID": "CASE WHEN {h} % 2 = 0 THEN 62 ELSE {h} % 300 END",
    "UserID": "CASE WHEN {h} % 50 = 0 THEN 435090932899640449 ELSE {h} % 4000 END",
    "RefererHash": "CASE WHEN {h} % 3 = 0 THEN 3594120000172545465 ELSE {h} % 1000 END",
    "URLHash": "CASE WHEN {h} % 3 = 0 THEN 2868770270353813622 ELSE {h} % 1000 END",
    "TraficSourceID": "({h} % 11)::INT - 1",
    "EventTime": "TIMESTAMP '2013-07-01' + to_seconds(({h} % (31 * 86400))::BIGINT)",
}
_RANGES = {"SMALLINT": 7, "INTEGER": 500, "BIGINT": 100_000}


def clickbench_queries(path: Path = CLICKBENCH_QUERIES) -> dict[int, str]:
    """Query number (1-based, ClickBench's order) -> SQL, from the cited file."""
    if not path.is_file():
        raise ClickBenchUnavailable(
            f"ClickBench queries not found at {path}: they ship with the iBERT repository only "
            "(CC BY-NC-SA 4.0); run the benchmark from a checkout, or choose --suite tpch/tpcds")
    lines = [ln.strip() for ln in path.read_text().splitlines()]
    sqls = [ln.rstrip(";") for ln in lines if ln and not ln.startswith("--")]
    return {i + 1: sql for i, sql in enumerate(sqls)}


def _column_value(name: str, dtype: str, position: int) -> str:
    h = f"hash(i, {position})"
    if name in _SPECIAL:
        return _SPECIAL[name].format(h=h)
    if name in _POOLS:
        pool = ", ".join("'" + v.replace("'", "''") + "'" for v in _POOLS[name])
        return f"([{pool}])[1 + ({h} % {len(_POOLS[name])})::INT]"
    if dtype in _RANGES:
        return f"({h} % {_RANGES[dtype]})::{dtype}"
    if dtype == "DATE":
        return "NULL"  # derived from EventTime below
    if dtype == "TIMESTAMP":
        return f"TIMESTAMP '2013-07-01' + to_seconds(({h} % (31 * 86400))::BIGINT)"
    return f"CASE WHEN {h} % 4 = 0 THEN '' ELSE 'v' || ({h} % 9)::VARCHAR END"


def clickbench_connection(rows: int = CLICKBENCH_ROWS):
    """An Ibis DuckDB backend with ClickBench's ``hits`` table (real columns, synthetic rows)."""
    import ibis

    con = ibis.duckdb.connect()
    raw = con.con
    create = "\n".join(ln for ln in CLICKBENCH_CREATE.read_text().splitlines() if not ln.startswith("--"))
    raw.execute(create)
    columns = raw.execute("SELECT column_name, data_type FROM information_schema.columns "
                          "WHERE table_name = 'hits' ORDER BY ordinal_position").fetchall()
    values = []
    for position, (name, dtype) in enumerate(columns):
        value = _column_value(name, dtype, position)
        if dtype == "DATE":
            value = f"CAST({_column_value('EventTime', 'TIMESTAMP', 4)} AS DATE)"
        values.append(f"{value} AS {name}")
    raw.execute(f"INSERT INTO hits SELECT {', '.join(values)} FROM range({int(rows)}) r(i)")
    return con


SUITES = ("tpch", "tpcds", "clickbench", "clickbench-postgres")
DIALECTS = {"clickbench-postgres": "postgres"}  # suites whose SQL is not DuckDB's


def add_arguments(parser) -> None:
    parser.add_argument("--suite", default="all", choices=["all", *SUITES],
                        help="query suite (default: all three, one JSON object with each)")
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    parser.add_argument("--scale", type=float, default=0.01, help="TPC scale factor of the data")
    parser.add_argument("--rows", type=int, default=CLICKBENCH_ROWS, help="synthetic rows of ClickBench's hits")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per query execution")
    parser.add_argument("--queries", default="", help="comma-separated query numbers (default: all)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the parse_sql baseline")


def baseline(sql: str, con, catalog: dict, timeout_s: float, dialect: str = "duckdb") -> tuple[bool, bool, bool, str]:
    """(converted, ran, matched, message) for ibis.parse_sql + ibis.decompile."""
    import ibis

    from ibert_jupyter.sql.transpile.checked import run_and_compare

    try:
        code = ibis.decompile(ibis.parse_sql(sql, catalog, dialect=dialect))
    except Exception as exc:  # noqa: BLE001 - the baseline failing is the measurement
        return False, False, False, f"convert: {type(exc).__name__}: {exc}"[:300]
    try:
        namespace: dict = {}
        exec(compile(code, "<decompiled>", "exec"), namespace)  # noqa: S102 - ibis's own output
        expr = namespace["result"]
        comparison = run_and_compare(con, sql, expr, dialect, timeout_s)
    except Exception as exc:  # noqa: BLE001
        return True, False, False, f"run: {type(exc).__name__}: {exc}"[:300]
    return True, True, comparison.equal, comparison.reason


def _suite(name: str, args):
    """(connection, queries) of one suite."""
    if name == "clickbench":
        return clickbench_connection(args.rows), clickbench_queries()
    if name == "clickbench-postgres":
        return clickbench_connection(args.rows), clickbench_queries(CLICKBENCH_POSTGRES_QUERIES)
    from ibert_jupyter.data import tpc

    suite = tpc.normalize_suite(name)
    return tpc.connect(suite, scale=args.scale), tpc.sql_queries(suite)


def run_suite(name: str, args) -> dict:
    """Every query of one suite through ours and the baseline; counts and failures."""
    from tqdm import tqdm

    from ibert_jupyter.sql.transpile.checked import CheckStage, convert_and_check

    con, queries = _suite(name, args)
    if args.queries:
        wanted = {int(q) for q in args.queries.split(",")}
        queries = {n: q for n, q in queries.items() if n in wanted}
    catalog = {table: con.get_schema(table) for table in con.list_tables()}
    counts = dict(converted=0, ran=0, matched=0, wrong=0, refused=0, crashed=0)
    base = dict(converted=0, ran=0, matched=0)
    times, failures = [], {}
    for number, sql in tqdm(queries.items(), desc=f"sql2ibis {name}", file=sys.stderr):
        t0 = time.perf_counter()
        try:
            outcome = convert_and_check(sql, con, dialect=DIALECTS.get(name, "duckdb"),
                                        timeout_s=args.timeout, catalog=catalog)
        except Exception as exc:  # noqa: BLE001 - a crash is counted, never hidden
            counts["crashed"] += 1
            failures[number] = f"crash: {type(exc).__name__}: {exc}"[:300]
            continue
        times.append(outcome.conversion.elapsed_ms if outcome.conversion else (time.perf_counter() - t0) * 1e3)
        for key in ("converted", "ran", "matched"):
            counts[key] += int(getattr(outcome, key))
        counts["wrong"] += int(outcome.stage == CheckStage.COMPARE)
        counts["refused"] += int(outcome.stage == CheckStage.CONVERT)
        if not outcome.matched:
            failures[number] = f"{outcome.stage}: {outcome.message}"[:300]
        if not args.no_baseline:
            converted, ran, matched, _ = baseline(sql, con, catalog, args.timeout, DIALECTS.get(name, "duckdb"))
            base["converted"] += converted
            base["ran"] += ran
            base["matched"] += matched
    con.disconnect()
    for number, why in failures.items():
        print(f"{name} q{number:02d}: {why}", file=sys.stderr)
    return {
        "suite": name,
        "total": len(queries),
        **counts,
        "matched_pct": round(100 * counts["matched"] / max(len(queries), 1), 1),
        "median_ms": round(median(times), 3) if times else None,
        "p95_ms": round(percentile(times, 95), 3) if times else None,
        "baseline_converted": None if args.no_baseline else base["converted"],
        "baseline_ran": None if args.no_baseline else base["ran"],
        "baseline_matched": None if args.no_baseline else base["matched"],
        "failures": {f"q{n:02d}": why for n, why in failures.items()},
    }


def run(args) -> int:
    names = SUITES if args.suite == "all" else (args.suite,)
    suites = {name: run_suite(name, args) for name in names}
    if len(suites) == 1:
        result = {**next(iter(suites.values())), "scale": args.scale}
    else:
        result = {
            "suite": "all", "scale": args.scale, "clickbench_rows": args.rows,
            "summary": {n: f"{r['matched']}/{r['total']}" for n, r in suites.items()},
            "suites": suites,
        }
    if args.json:
        for name, r in suites.items():
            print(f"{name}: {r['matched']}/{r['total']} matched, {r['wrong']} wrong, "
                  f"{r['refused']} refused, {r['crashed']} crashed")
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key}: {value}")
    return 0
