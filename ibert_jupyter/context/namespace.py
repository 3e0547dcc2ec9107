"""Which Ibis names a notebook namespace really binds (contract A).

The verifier supplies ``ibis``, ``_`` and friends to every candidate; a notebook does not.
In IPython ``_`` is the last output unless the user ran ``from ibis import _``, so a fix that
uses ``_`` runs in the verifier and fails where it is applied. Callers in the kernel pass
``provided=ibis_names(shell.user_ns)`` so "verified" means "runs in this notebook".
"""

from __future__ import annotations

import types
from typing import Any, Mapping


def _is_ibis_module(value: Any) -> bool:
    return isinstance(value, types.ModuleType) and (value.__name__ == "ibis" or value.__name__.startswith("ibis."))


def ibis_names(namespace: Mapping[str, Any]) -> frozenset[str]:
    """Names in ``namespace`` bound to Ibis itself: the module, its submodules, ``ibis._``,
    and public Ibis functions imported by name (``from ibis import desc``).

    ``_`` counts only when it *is* ``ibis._``; ``ibis`` only when it is the ibis module.
    """
    if not isinstance(namespace, Mapping):
        raise TypeError(f"ibis_names() needs a mapping of names to values, got {type(namespace).__name__}")
    import ibis

    names = set()
    for name, value in namespace.items():
        if not isinstance(name, str):
            continue
        try:
            if value is ibis._:
                names.add(name)
            elif _is_ibis_module(value):
                names.add(name)
            elif (
                callable(value) and not isinstance(value, type)
                and (getattr(value, "__module__", "") or "").startswith("ibis")
                and getattr(ibis, getattr(value, "__name__", ""), None) is value
            ):
                names.add(name)
        except Exception:  # noqa: BLE001 - exotic objects with odd __eq__/__getattr__
            continue
    return frozenset(names)
