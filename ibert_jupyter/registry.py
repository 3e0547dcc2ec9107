"""Lazy tables: name -> "module:attribute", imported only when that name is used.

The CLI's command table set the pattern: a table is cheap to import and to list (for help and
errors), while what an entry names (torch, an HTTP client, a model) loads only when chosen.
Model backends, IbisBench backends and status providers are such tables.
"""

from __future__ import annotations

import importlib
from typing import Any, Mapping


def load(table: Mapping[str, str], name: str, what: str) -> Any:
    """The object ``table[name]`` names, imported now; an unknown name is a ValueError that
    lists the known ones (``what`` says what kind of name it is, for the message)."""
    spec = table.get(name) if isinstance(name, str) else None
    if spec is None:
        raise ValueError(f"unknown {what} {name!r}; known: {', '.join(table)}")
    module, _, attribute = spec.partition(":")
    found: Any = importlib.import_module(module)
    for part in attribute.split("."):
        found = getattr(found, part)
    return found
