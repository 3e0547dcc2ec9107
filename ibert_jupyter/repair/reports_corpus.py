"""The second repair corpus: broken cells written from real Ibis users' reports.

Each line of ``evaluation/data/repair_reports/cells.jsonl`` is one notebook cell that fails,
the report it was written from (``source``), the program its author meant (``intended``),
whether deterministic rules could reasonably fix it (``rule_fixable``), which namespace it runs
in (``namespace``: "full" binds ``ibis`` and ``_``; "no_underscore" is a fresh notebook where
``_`` is IPython's last output) and its split. The split was drawn once, before any rule was
written, with ``random.Random(SPLIT_SEED)`` (see ``assign_splits``).

Cells run against two databases: "shop", a small seeded DuckDB database of penguins,
customers and sales built here, and "tpch", TPC-H at scale 0.01 from the DuckDB extension.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import date, timedelta
from importlib import resources
from pathlib import Path

SPLIT_SEED = 19
CELLS_PATH = Path(str(resources.files("ibert_jupyter"))) / "evaluation" / "data" / "repair_reports" / "cells.jsonl"


@dataclass(frozen=True)
class ReportCell:
    id: str
    source: str
    kind: str
    db: str
    broken: str
    intended: str
    rule_fixable: bool
    namespace: str
    split: str
    note: str = ""


def load_cells(path: Path = CELLS_PATH) -> list[ReportCell]:
    cells = []
    for line in path.read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            cells.append(ReportCell(**{k: row[k] for k in ReportCell.__dataclass_fields__ if k in row}))
    return cells


def assign_splits(ids: list[str], seed: int = SPLIT_SEED, dev_fraction: float = 0.5) -> dict[str, str]:
    """Half dev, half test, drawn once with a fixed seed (ids sorted first, so order is irrelevant)."""
    ordered = sorted(ids)
    random.Random(seed).shuffle(ordered)
    n_dev = round(len(ordered) * dev_fraction)
    return {cell_id: ("dev" if i < n_dev else "test") for i, cell_id in enumerate(ordered)}


_SPECIES = [("Adelie", "Torgersen"), ("Adelie", "Dream"), ("Gentoo", "Biscoe"), ("Chinstrap", "Dream")]
_CITIES = ["Berlin", "Lyon", "Porto", "Oslo", "Graz"]


def shop_tables(seed: int = 7) -> dict[str, dict[str, list]]:
    """Columns of the three shop tables, generated deterministically."""
    rng = random.Random(seed)
    penguins = {k: [] for k in ("species", "island", "bill_length_mm", "body_mass_g", "sex", "year")}
    for i in range(60):
        species, island = _SPECIES[i % 4]
        penguins["species"].append(species)
        penguins["island"].append(island)
        penguins["bill_length_mm"].append(None if i % 17 == 5 else round(rng.uniform(33, 58), 1))
        penguins["body_mass_g"].append(rng.randrange(2800, 6200, 25))
        penguins["sex"].append(None if i % 13 == 3 else rng.choice(["male", "female"]))
        penguins["year"].append(2007 + i % 3)
    customers = {k: [] for k in ("customer_id", "name", "city", "segment", "signup_date")}
    for cid in range(1, 21):
        customers["customer_id"].append(cid)
        customers["name"].append(f"cust{cid:02d}")
        customers["city"].append(_CITIES[cid % 5])
        customers["segment"].append(["retail", "wholesale", "online"][cid % 3])
        customers["signup_date"].append(date(2022, 1, 1) + timedelta(days=17 * cid))
    sales = {k: [] for k in ("sale_id", "customer_id", "sale_date", "amount", "quantity", "status", "channel", "city")}
    for sid in range(1, 121):
        sales["sale_id"].append(sid)
        sales["customer_id"].append(rng.randrange(1, 21))
        sales["sale_date"].append(date(2023, 1, 1) + timedelta(days=3 * sid))
        sales["amount"].append(round(rng.uniform(5, 250), 2))
        sales["quantity"].append(rng.randrange(1, 9))
        sales["status"].append(None if sid % 19 == 0 else rng.choice(["shipped", "returned", "pending"]))
        sales["channel"].append(rng.choice(["web", "store", "phone"]))
        sales["city"].append(rng.choice(_CITIES))
    return {"penguins": penguins, "customers": customers, "sales": sales}


def connect_shop():
    """An in-memory Ibis DuckDB backend holding the shop tables."""
    import ibis
    import pyarrow as pa

    con = ibis.duckdb.connect()
    for name, columns in shop_tables().items():
        con.con.register(f"_{name}_arrow", pa.table(columns))
        con.con.execute(f"CREATE TABLE {name} AS SELECT * FROM _{name}_arrow")
        con.con.unregister(f"_{name}_arrow")
    return con
