"""An evaluation run as JSON (the numbers) and as one self-contained HTML page (the pictures).

The headline is the setting a user gets: with retrieved docs (when an index exists) and all R
repair rounds. Every other (docs, round) cell is in ``grid``; per-task rows in ``per_task``.
"""

from __future__ import annotations

import base64
import html
import io
import statistics
from collections import Counter
from typing import Any, Sequence

from ibert_jupyter.evaluation.ibisbench.harness import EvalRun, TaskRun
from ibert_jupyter.evaluation.ibisbench.metrics import ks_for, mean, pass_at_k
from ibert_jupyter.evaluation.ibisbench.tasks import TIERS


def _scores(runs: Sequence[TaskRun], n: int, r: int) -> dict[str, Any]:
    return {
        "tasks": len(runs),
        "compile_rate": round(mean(t.compiled(r) / n for t in runs), 4),
        "exec_accuracy": round(mean(t.correct(r) / n for t in runs), 4),
        "pass_at_k": {str(k): round(mean(pass_at_k(n, t.correct(r), k) for t in runs), 4) for k in ks_for(n)},
    }


def _median(values) -> float:
    values = list(values)
    return round(statistics.median(values), 2) if values else 0.0


def headline_docs(run: EvalRun) -> bool:
    return True if (True in run.docs_settings and run.docs_available) else run.docs_settings[0]


def summarize(run: EvalRun) -> dict[str, Any]:
    docs = headline_docs(run)
    R = run.rounds
    head = [t for t in run.runs if t.docs == docs]
    grid = []
    for d in run.docs_settings:
        for r in range(R + 1):
            grid.append({"docs": d, "round": r, **_scores([t for t in run.runs if t.docs == d], run.n, r)})
    by_tier = {tier: _scores([t for t in head if t.task.tier == tier], run.n, R)
               for tier in TIERS if any(t.task.tier == tier for t in head)}
    databases = sorted({t.task.database for t in head})
    by_database = {db: _scores([t for t in head if t.task.database == db], run.n, R) for db in databases}
    final = [s.at_round(R) for t in head for s in t.samples]
    stages = Counter(str(a.stage) for a in final)
    per_task = []
    for t in run.runs:
        attempts = [a for s in t.samples for a in s.attempts]  # one call made all round-0 answers
        per_task.append({
            "id": t.task.id, "tier": t.task.tier, "database": t.task.database, "docs": t.docs,
            "correct_by_round": [t.correct(r) for r in range(R + 1)],
            "compiled_by_round": [t.compiled(r) for r in range(R + 1)],
            "tokens": sum(a.tokens for a in attempts),
            # one model call serves n first answers: count its time once, then each repair call
            "model_ms": round(max((a.model_ms for a in attempts if a.round == 0), default=0.0)
                              + sum(a.model_ms for a in attempts if a.round > 0), 2),
            "verify_ms": round(sum(a.verify_ms for a in attempts), 2),
            "execute_ms": round(sum(a.execute_ms for a in attempts), 2),
            "prompt_ms": round(t.prompt_ms, 2),
            "final_stages": dict(Counter(str(s.at_round(R).stage) for s in t.samples)),
        })
    head_rows = [p for p in per_task if p["docs"] == docs]
    recall = [x.recall for x in run.retrieval]
    specific = [x.specific_recall for x in run.retrieval if x.specific_recall is not None]
    recall_by_tier = {tier: round(mean(x.recall for x in run.retrieval if x.task.tier == tier), 4)
                      for tier in TIERS if any(x.task.tier == tier for x in run.retrieval)}
    return {
        "suite": run.suite,
        "backend": run.backend,
        "tasks": len(head),
        "n": run.n,
        "rounds": R,
        "docs": docs,
        "docs_available": run.docs_available,
        **{k: v for k, v in _scores(head, run.n, R).items() if k != "tasks"},
        "by_tier": by_tier,
        "by_database": by_database,
        "grid": grid,
        "final_stages": dict(stages),
        "retrieval_recall_at_5": round(mean(recall), 4) if recall else None,
        "retrieval_recall_task_specific_at_5": round(mean(specific), 4) if specific else None,
        "retrieval_recall_by_tier": recall_by_tier,
        "latency_ms_per_task": {
            "prompt": _median(p["prompt_ms"] for p in head_rows),
            "model": _median(p["model_ms"] for p in head_rows),
            "verify": _median(p["verify_ms"] for p in head_rows),
            "execute": _median(p["execute_ms"] for p in head_rows),
        },
        "tokens_per_task": round(mean(p["tokens"] for p in head_rows), 1),
        "wall_s": round(run.wall_s, 2),
        "per_task": per_task,
        **({"meta": run.meta} if run.meta else {}),
    }


# --- HTML ---------------------------------------------------------------------------------
def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _plots(summary: dict) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = []
    rounds = summary["rounds"]
    # 1. accuracy by tier, one bar group per round (headline docs setting)
    fig, ax = plt.subplots(figsize=(7, 3.4))
    tiers = [t for t in TIERS if t in summary["by_tier"]]
    cells = {(c["docs"], c["round"]): c for c in summary["grid"]}
    width = 0.8 / (rounds + 1)
    for r in range(rounds + 1):
        values = []
        for tier in tiers:
            rows = [p for p in summary["per_task"] if p["tier"] == tier and p["docs"] == summary["docs"]]
            values.append(mean(p["correct_by_round"][r] / summary["n"] for p in rows))
        ax.bar([i + r * width for i in range(len(tiers))], values, width, label=f"{r} repair round(s)")
    ax.set_xticks([i + width * rounds / 2 for i in range(len(tiers))], [t.replace("_", "\n") for t in tiers], fontsize=8)
    ax.set_ylim(0, 1.25)
    ax.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    ax.set_ylabel("execution accuracy")
    ax.legend(fontsize=8, ncol=rounds + 1, loc="upper center")
    ax.set_title("Execution accuracy by tier and repair rounds")
    out.append(("Accuracy by tier and rounds", _png(fig)))
    # 2. pass@k curves, one line per (docs, round)
    fig, ax = plt.subplots(figsize=(7, 3.4))
    for (docs, r), cell in sorted(cells.items()):
        ks = sorted(int(k) for k in cell["pass_at_k"])
        ax.plot(ks, [cell["pass_at_k"][str(k)] for k in ks], marker="o",
                label=f"{'docs' if docs else 'no docs'}, {r} round(s)", linestyle="-" if docs else "--")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("k")
    ax.set_ylabel("pass@k")
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title(f"pass@k (unbiased, n={summary['n']})")
    out.append(("pass@k", _png(fig)))
    # 3. latency breakdown per task (medians)
    fig, ax = plt.subplots(figsize=(7, 1.8))
    left = 0.0
    for stage, value in summary["latency_ms_per_task"].items():
        ax.barh([0], [value], left=left, label=f"{stage} {value:.0f} ms")
        left += value
    ax.set_yticks([])
    ax.set_xlabel("ms per task (median of each stage)")
    ax.legend(fontsize=7, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.45))
    ax.set_title("Where the time goes")
    out.append(("Latency breakdown", _png(fig)))
    return out


def _table(rows: list[list], header: list[str]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def to_html(summary: dict, *, note: str = "") -> str:
    """One self-contained page: headline, plots (inline PNG), tier table, failures."""
    s = summary
    ks = sorted(s["pass_at_k"], key=int)
    tier_rows = [[t, v["tasks"], v["compile_rate"], v["exec_accuracy"], *[v["pass_at_k"][k] for k in ks]]
                 for t, v in s["by_tier"].items()]
    grid_rows = [["with docs" if c["docs"] else "without docs", c["round"], c["compile_rate"], c["exec_accuracy"],
                  *[c["pass_at_k"][k] for k in ks]] for c in s["grid"]]
    plots = "".join(f"<figure><img alt='{html.escape(t)}' src='{src}'><figcaption>{html.escape(t)}</figcaption></figure>"
                    for t, src in _plots(s))
    recall = s["retrieval_recall_at_5"]
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>IbisBench: {html.escape(s['backend'])}</title>
<style>body{{font:14px system-ui,sans-serif;max-width:60em;margin:2em auto;color:#222}}
table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}
th{{background:#f3f3f3}}td:first-child{{text-align:left}}.big{{font-size:1.6em;font-weight:600}}
figure{{margin:1em 0}}img{{max-width:100%}}.note{{background:#fff6d6;padding:.6em;border-left:4px solid #e0b000}}</style>
</head><body>
<h1>IbisBench — {html.escape(s['backend'])}</h1>
{f'<p class="note">{html.escape(note)}</p>' if note else ''}
<p>{s['tasks']} tasks of <code>{html.escape(s['suite'])}</code>, n = {s['n']} samples each, up to {s['rounds']} repair
rounds, {'with' if s['docs'] else 'without'} retrieved API docs (headline).</p>
<p><span class="big">{s['exec_accuracy']:.3f}</span> execution accuracy (pass@1) ·
<span class="big">{s['compile_rate']:.3f}</span> compile rate ·
pass@{ks[-1]} <span class="big">{s['pass_at_k'][ks[-1]]:.3f}</span> ·
retrieval recall@5 {'n/a (no index)' if recall is None else f'{recall:.3f}'}</p>
{plots}
<h2>By tier</h2>{_table(tier_rows, ['tier', 'tasks', 'compile', 'exec acc', *[f'pass@{k}' for k in ks]])}
<h2>Docs × repair rounds</h2>{_table(grid_rows, ['prompt', 'rounds', 'compile', 'exec acc', *[f'pass@{k}' for k in ks]])}
<h2>How the final samples ended</h2>{_table([[k, v] for k, v in sorted(s['final_stages'].items())], ['stage', 'samples'])}
<p>Stages: <code>ok</code> right result; <code>result</code> ran, wrong result; <code>sandbox</code> unsafe code
rejected; <code>parse</code>/<code>build</code>/<code>typecheck</code>/<code>sql</code> did not compile;
<code>preview</code> compiled but failed to run.</p>
</body></html>"""
