"""Which Ibis names a notebook namespace really binds (contract A).

The verifier supplies ``ibis``, ``_`` and friends to every candidate; a notebook does not.
In IPython ``_`` is the last output unless the user ran ``from ibis import _``, so a fix that
uses ``_`` runs in the verifier and fails where it is applied. Callers in the kernel pass
``provided=ibis_names(shell.user_ns)`` so "verified" means "runs in this notebook".
"""

from __future__ import annotations

import ast
import inspect
import types
from typing import Any, Mapping

_JSON_SCALARS = (str, int, float, bool, type(None))


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


def is_plain_data(value: Any) -> bool:
    """JSON-shaped data (scalars, lists, tuples, str-keyed dicts): what can cross to the
    isolated verifier by value."""
    if isinstance(value, _JSON_SCALARS):
        return True
    if isinstance(value, (list, tuple)):
        return all(is_plain_data(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and is_plain_data(v) for k, v in value.items())
    return False


def _cell_names(code: str) -> set[str]:
    try:
        return {n.id for n in ast.walk(ast.parse(code)) if isinstance(n, ast.Name)}
    except SyntaxError:
        return set()


def helpers_for(code: str, namespace: Mapping[str, Any]) -> dict[str, Any]:
    """Non-table values the cell reads from the notebook that can reach the isolated verifier:
    plain data (constants, lists, dicts) and functions (sent by module and name).

    Lives in the core so the repair benchmark picks helpers exactly as ``%ibert_fix`` does
    without importing the Jupyter adapter."""
    import ibis.expr.types as ir

    helpers = {}
    for name in _cell_names(code):
        if name.startswith("_") or name not in namespace or name == "ibis":
            continue
        value = namespace[name]
        if isinstance(value, ir.Table):
            continue
        if is_plain_data(value) or inspect.isfunction(value):
            helpers[name] = value
    return helpers
