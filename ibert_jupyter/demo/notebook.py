"""Write the demo notebook: one section per iBERT feature, runnable top to bottom.

Cells that demonstrate an error on purpose carry the ``raises-exception`` tag so headless
runs (papermill) treat them as expected; every other cell must succeed.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook


def _md(text: str):
    return new_markdown_cell(text.strip())


def _code(text: str, *, raises: bool = False, parameters: bool = False):
    tags = (["raises-exception"] if raises else []) + (["parameters"] if parameters else [])
    return new_code_cell(text.strip(), metadata={"tags": tags} if tags else {})


def demo_cells() -> list:
    return [
        _md("""
# iBERT tour

iBERT helps you write **Ibis** code that is *compiled and type-checked against your live tables*
before you see it. This notebook runs on an embedded DuckDB database with TPC-H data
(scale 0.01) that `ibert demo` generated offline.

Features that need the **Devstral** model show a clear *model unavailable* message when no
weights are configured; everything else works without a model.
"""),
        _code('database = "demo.duckdb"', parameters=True),
        _code("""
import ibis
from ibis import _

%load_ext ibert_jupyter

con = ibis.duckdb.connect(database, read_only=True)
lineitem = con.table("lineitem")
orders = con.table("orders")
customer = con.table("customer")
con.list_tables()
"""),
        _md("""
## 1. What iBERT sees in your kernel
A JSON snapshot of the tables and backends in your namespace: names, columns and types. The
server-side model loop uses it to type-check candidates without touching your data.
"""),
        _code("""
from ibert_jupyter.context import schema_snapshot

snapshot = schema_snapshot(globals())
[(t["variable"], t["backend"], len(t["columns"])) for t in snapshot["tables"]]
"""),
        _md("""
## 2. The verifier
Every piece of code iBERT shows has gone through: parse → sandbox check → build against your
tables → type-check → SQL → preview. Failures point at the line and column.
"""),
        _code("""
from ibert_jupyter.verify import verify

candidate = '''
late = lineitem.filter(_.l_receiptdate > _.l_commitdate)
late.group_by("l_shipmode").agg(late_items=_.count()).order_by(ibis.desc("late_items"))
'''
report = verify(candidate, {"lineitem": lineitem}, preview=True)
print(report.summary())
report.preview
"""),
        _code("""
broken = 'lineitem.group_by("l_shipmode").agg(total=lineitem.l_extendedprise.sum())'
print(verify(broken, {"lineitem": lineitem}).summary())
"""),
        _code("""
print(verify("import os\\nos.listdir('/')", {"lineitem": lineitem}).summary())
"""),
        _md("""
## 3. `%ibert_sql`: SQL for any dialect, and where your expression is portable
"""),
        _code("""
revenue = (
    orders.join(customer, orders.o_custkey == customer.c_custkey)
    .group_by("c_mktsegment")
    .agg(revenue=_.o_totalprice.sum())
    .order_by(ibis.desc("revenue"))
)
%ibert_sql revenue
"""),
        _code("%ibert_sql revenue --dialect snowflake"),
        _code("""
fuzzy = customer.mutate(distance=customer.c_name.levenshtein("Customer#000000001"))
%ibert_sql fuzzy --all-dialects
"""),
        _md("""
## 4. `%ibert_fix`: repair the last error, verified against your tables
The next cell fails on purpose (pandas habits on an Ibis table). `%ibert_fix` classifies the
error, proposes schema-aware fixes and shows only fixes that ran through the verifier.
"""),
        _code("""
by_mode = lineitem.groupby("l_shipmode").agg(total=lineitem.l_extendedprice.sum())
by_mode.sort_values("total", ascending=False)
""", raises=True),
        _code("%ibert_fix --no-model"),
        _code("""
late = orders.filter(orders.o_orderdate > ibis.date("1998-01-01"))
late.agg(n=late.o_totlprice.mean())
""", raises=True),
        _code("%ibert_fix"),
        _md("""
## 5. `%ibert_lint`: Semgrep rules for Ibis idioms
"""),
        _code("%ibert_lint"),
        _md("""
## 6. `%ibert_search`: the installed Ibis's own API, ranked
`ibert demo` built the index before opening this notebook (once per Ibis version; `ibert index` rebuilds it):
symbol chunks, BM25 + MiniLM vectors, a symbol graph, in Qdrant. Source links open inside JupyterLab.
"""),
        _code("%ibert_search rolling average over a window ordered by date"),
        _md("""
## 7. `%%ibert`: generate code from a request (needs Devstral)
Candidates are compiled and type-checked against your tables before they are shown. Without
configured weights this says *model unavailable* and how to fix it.
"""),
        _code("""
%%ibert --n 4 --rounds 2
total revenue per order priority in 1995, highest first
"""),
    ]


def write_demo_notebook(path: str | Path, database: str | Path) -> Path:
    """Write the tour notebook to ``path`` with its ``database`` parameter filled in."""
    path = Path(path)
    nb = new_notebook(cells=demo_cells())
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells[1].source = f"database = {str(database)!r}"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path
