"""`ibert eval`: score a model, an endpoint, a replay file or the gold programs on IbisBench.

Last stdout line: one JSON object (suite, tasks, compile_rate, exec_accuracy, pass_at_k,
by_tier, retrieval_recall_at_5, ...). ``--out DIR`` also writes report.json and report.html.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ibert_jupyter.evaluation.ibisbench.tasks import SUITES

HEADLINE_KEYS = ("suite", "backend", "tasks", "n", "rounds", "docs", "docs_available", "compile_rate", "exec_accuracy",
                 "pass_at_k", "by_tier", "by_database", "retrieval_recall_at_5", "retrieval_recall_task_specific_at_5", "latency_ms_per_task",
                 "tokens_per_task", "final_stages", "wall_s")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", choices=("local", "openai", "replay", "gold"), required=True,
                        help="local: Devstral (IBERT_MODEL, IBERT_ADAPTER); openai: IBERT_OPENAI_BASE_URL/_MODEL; "
                             "replay: --replay FILE; gold: each task's gold program (checks the harness)")
    parser.add_argument("--suite", choices=sorted(SUITES), default="ibisbench-test")
    parser.add_argument("--n", type=int, default=8, help="samples per task (pass@k for k ≤ n)")
    parser.add_argument("--rounds", type=int, default=2, help="repair rounds after a verifier error (0..R scored)")
    parser.add_argument("--docs", choices=("both", "on", "off"), default="both",
                        help="prompts with retrieved API docs, without, or both")
    parser.add_argument("--retrieval", choices=("task", "plain"), default="task",
                        help="task: core sheet + task-style search (what %%%%ibert sends); plain: search(request, 5) "
                             "alone, the baseline before it")
    parser.add_argument("--replay", help="replay file (JSONL, as written by --record)")
    parser.add_argument("--record", help="write every model answer to this replay file")
    parser.add_argument("--database", action="append", help="only tasks of this database (repeatable)")
    parser.add_argument("--limit", type=int, help="only the first N tasks (a quick look)")
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--out", help="directory for report.json and report.html")
    parser.add_argument("--json", action="store_true", help="print the JSON summary line (always last)")


def run(args: argparse.Namespace) -> int:
    from ibert_jupyter.evaluation.ibisbench.backends import RecordingBackend, make_backend
    from ibert_jupyter.evaluation.ibisbench.harness import RETRIEVERS, evaluate
    from ibert_jupyter.evaluation.ibisbench.report import summarize, to_html
    from ibert_jupyter.evaluation.ibisbench.tasks import load_tasks
    from ibert_jupyter.model.errors import ModelUnavailable

    if args.n < 1 or args.rounds < 0:
        print("error: --n must be at least 1 and --rounds at least 0", file=sys.stderr)
        return 2
    tasks = load_tasks(args.suite)
    if args.database:
        tasks = [t for t in tasks if t.database in args.database]
    if args.limit:
        tasks = tasks[: args.limit]
    try:
        backend = make_backend(args.backend, replay=args.replay, max_new_tokens=args.max_new_tokens,
                               temperature=args.temperature)
    except (ValueError, FileNotFoundError, ModelUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.record:
        backend = RecordingBackend(backend, args.record)
    docs = {"both": (True, False), "on": (True,), "off": (False,)}[args.docs]
    try:
        result = evaluate(tasks, backend, n=args.n, rounds=args.rounds, docs_settings=docs, suite=args.suite,
                          retrieve=RETRIEVERS[args.retrieval])
    except (LookupError, ModelUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        if args.record:
            backend.close()
    summary = summarize(result)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "report.json").write_text(json.dumps(summary, indent=1))
        note = "" if args.backend not in ("gold",) else "Gold backend: every answer is the task's own gold program."
        (out / "report.html").write_text(to_html(summary, note=note))
        print(f"wrote {out / 'report.json'} and {out / 'report.html'}", file=sys.stderr)
    line = {k: summary[k] for k in HEADLINE_KEYS}
    if not args.json:
        print(f"{summary['tasks']} tasks: exec accuracy {summary['exec_accuracy']}, compile rate "
              f"{summary['compile_rate']}, pass@k {summary['pass_at_k']}, retrieval recall@5 "
              f"{summary['retrieval_recall_at_5']}")
    print(json.dumps(line))
    return 0
