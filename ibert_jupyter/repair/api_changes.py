"""Renamed and removed Ibis APIs, read from the installed ibis rather than a hand list.

* deprecated methods: ``ibis.util.deprecated`` appends "DEPRECATED: ... use X instead" to
  the wrapped method's docstring, so scanning ``ibis.expr.types`` finds every one of them
  with its replacement;
* removed/misspelled methods: ibis's own ``AttributeError`` sometimes says "did you mean";
  otherwise the nearest public name in ``dir()`` of the expression's type answers.
"""

from __future__ import annotations

import difflib
import functools
import re
from dataclasses import dataclass

_INSTEAD = re.compile(r"use\s+`?(?:[a-z_]+\.)?([A-Za-z_][A-Za-z0-9_]*)\(?\)?`?")
_DID_YOU_MEAN = re.compile(r"did you mean '([A-Za-z_][A-Za-z0-9_]*)'")


@dataclass(frozen=True)
class DeprecatedApi:
    owner: str
    name: str
    replacement: str | None
    note: str


def _deprecation_note(doc: str) -> str | None:
    start = doc.find("DEPRECATED")
    if start < 0:
        return None
    note = doc[start:].split(":::", 1)[0]
    return " ".join(note.split())


@functools.cache
def deprecated_methods() -> dict[str, DeprecatedApi]:
    """method name -> deprecation (owner class, replacement method) in the installed ibis."""
    import ibis.expr.types as ir

    found: dict[str, DeprecatedApi] = {}
    for owner_name in dir(ir):
        owner = getattr(ir, owner_name)
        if not isinstance(owner, type):
            continue
        for name, value in vars(owner).items():
            note = _deprecation_note(getattr(value, "__doc__", None) or "")
            if note is None or name.startswith("_") or name in found:
                continue
            match = _INSTEAD.search(note.split("DEPRECATED", 1)[1])
            replacement = match.group(1) if match else None
            if replacement == name:
                replacement = None
            found[name] = DeprecatedApi(owner_name, name, replacement, note)
    return found


def public_names(cls: type) -> list[str]:
    return [n for n in dir(cls) if not n.startswith("_")]


def hinted_name(message: str) -> str | None:
    """The replacement ibis itself suggests in an error message ("did you mean 'x'")."""
    match = _DID_YOU_MEAN.search(message or "")
    return match.group(1) if match else None


def nearest_method(cls: type, name: str, n: int = 3, cutoff: float = 0.6) -> list[str]:
    """Public methods of ``cls`` whose names are closest to ``name``."""
    return difflib.get_close_matches(name, public_names(cls), n=n, cutoff=cutoff)


# Methods removed from Ibis whose deprecation note is gone with them: name -> replacement.
# (The installed ibis still documents newer deprecations; these predate it.)
REMOVED_METHODS: dict[str, str] = {
    "relabel": "rename",  # 7.x; the mapping runs the other way: rename({new: old})
    "groupby": "group_by",  # 5.x
    "sort_by": "order_by",  # 5.x
    "fillna": "fill_null",  # 9.x
    "dropna": "drop_null",  # 9.x
}
