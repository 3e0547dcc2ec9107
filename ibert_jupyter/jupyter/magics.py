"""Registers every iBERT magic with IPython.

Each feature keeps its magics in its own module (a ``Magics`` subclass); this list is the
only place that names them all.
"""

from __future__ import annotations

import importlib

MAGIC_CLASSES: tuple[str, ...] = (
    "ibert_jupyter.jupyter.magics_from_sql:FromSqlMagics",
    "ibert_jupyter.jupyter.magics_sql:SqlMagics",
    "ibert_jupyter.jupyter.magics_fix:FixMagics",
    "ibert_jupyter.jupyter.magics_search:SearchMagics",
    "ibert_jupyter.jupyter.magics_generate:GenerateMagics",
)


def _load(spec: str):
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def register_magics(ipython) -> None:
    for spec in MAGIC_CLASSES:
        ipython.register_magics(_load(spec)(shell=ipython))
