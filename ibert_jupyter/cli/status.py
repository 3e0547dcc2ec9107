"""``ibert status``: what iBERT knows about itself, for people (default) or scripts (``--json``)."""

from __future__ import annotations

import json
from typing import Any

GOOD = {"ok", "ready", "loaded", "available", "configured"}
WORDS = {
    "loaded": "✓ loaded",
    "available": "✓ weights found (not loaded yet)",
    "configured": "✓ endpoint configured",
    "ok": "✓ ready",
    "ready": "✓ ready",
    "unavailable": "✗ unavailable",
    "misconfigured": "✗ misconfigured",
    "missing": "✗ not built",
    "outdated": "✗ outdated",
    "degraded": "degraded (no symbol graph)",
}
NAMES = {"ibis": "Ibis", "duckdb": "DuckDB", "sqlglot": "sqlglot"}
# details shown first, in this order; the rest follow alphabetically
FIRST = ("model", "backend", "endpoint", "endpoint_model", "quantization", "adapter", "weights", "path", "hint",
         "message", "error", "instructions")


def add_arguments(parser) -> None:
    parser.add_argument("--json", action="store_true", help="print the status as one JSON object (for scripts)")


def status_words(status: str) -> str:
    return WORDS.get(status, f"✓ {status}" if status in GOOD else status)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value)) or "none"
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items()) or "none"
    return str(value)


def _component(name: str, info: dict[str, Any]) -> list[str]:
    lines = [f"{name.capitalize():<7} {status_words(str(info.get('status', 'unknown')))}"]
    keys = [k for k in FIRST if k in info] + sorted(k for k in info if k not in FIRST and k != "status")
    for key in keys:
        value = info[key]
        if value in (None, "", [], {}):
            continue
        text = _value(value)
        label = key.replace("_", " ")
        if "\n" in text:
            lines.append(f"        {label}:")
            lines += [f"          {line}" for line in text.splitlines()]
        else:
            lines.append(f"        {label}: {text}")
    return lines


def format_status(status: dict[str, Any]) -> str:
    """Versions on one line, then each component with its state in words and its details."""
    versions = [f"iBERT {status.get('version', '?')}"]
    for key, value in status.items():
        if key.endswith("_version") and value:
            name = key.removesuffix("_version")
            versions.append(f"{NAMES.get(name, name.replace('_', ' '))} {value}")
    lines = [" · ".join(versions), ""]
    for key, value in status.items():
        if isinstance(value, dict):
            lines += _component(key, value) + [""]
        elif key != "version" and not key.endswith("_version"):
            lines.append(f"{key.replace('_', ' ')}: {_value(value)}")
    return "\n".join(lines).rstrip() + "\n"


def run(args) -> int:
    from ibert_jupyter.status import collect_status

    status = collect_status()
    if getattr(args, "json", False):
        print(json.dumps(status, indent=2))
    else:
        print(format_status(status), end="")
    return 0
