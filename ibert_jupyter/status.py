"""One status object shared by the CLI and the server's /ibert/status route."""

from __future__ import annotations

import importlib
from typing import Any

from ibert_jupyter.registry import load

# Components report their own status: name -> "module:function", a zero-argument callable
# returning a JSON-ready dict. Resolved lazily so `status` never loads a model.
STATUS_PROVIDERS: dict[str, str] = {
    "model": "ibert_jupyter.model.status:model_status",
    "index": "ibert_jupyter.retrieval.index.status:index_status",
}


def _version(module: str) -> str | None:
    try:
        return getattr(importlib.import_module(module), "__version__", None)
    except Exception:
        return None


def collect_status() -> dict[str, Any]:
    status: dict[str, Any] = {
        # by name, like the others: the package root holds the Jupyter hooks, an adapter
        "version": _version("ibert_jupyter"),
        "ibis_version": _version("ibis"),
        "duckdb_version": _version("duckdb"),
        "sqlglot_version": _version("sqlglot"),
    }
    for name in STATUS_PROVIDERS:
        try:
            status[name] = load(STATUS_PROVIDERS, name, "status provider")()
        except Exception as exc:  # noqa: BLE001 - status must always answer
            status[name] = {"status": "error", "error": f"{type(exc).__name__}: {exc}"}
    return status
