"""End-of-run check: generate for dev examples and count how many programs pass the verifier.

The prompt is each example's conversation up to its last assistant message; the answer's code
(from a fenced block, else the whole text) goes through ``ibert_jupyter.verify.verify`` against
unbound tables built from the example's ``schema``. A RANDOM base model scores ~0: that is the
expected, honest number for it.
"""

from __future__ import annotations

import json
import re
from typing import Any, Sequence

CODE_TASKS = frozenset({"nl2ibis", "sql2ibis", "repair"})  # answers that are whole programs
FENCE = re.compile(r"```(?:python|py)?\s*\n(.*?)```", re.DOTALL)


def extract_code(text: str) -> str:
    match = FENCE.search(text)
    return (match.group(1) if match else text).strip()


def tables_from_schema(schema: Any) -> dict:
    """Unbound ibis tables from a row's schema: a context snapshot, or {table: {column: type}}."""
    import ibis

    from ibert_jupyter.context.tables import tables_from_snapshot

    data = json.loads(schema) if isinstance(schema, str) else schema
    if isinstance(data, dict) and "tables" in data and isinstance(data["tables"], list):
        return tables_from_snapshot(data)
    if isinstance(data, dict) and data and all(isinstance(v, (dict, list)) for v in data.values()):
        return {name: ibis.table(ibis.schema(dict(cols) if isinstance(cols, list) else cols), name=name)
                for name, cols in data.items()}
    raise ValueError("schema is neither a schema snapshot nor {table: {column: type}}")


def verified_generation(model, chat_tokenizer, rows: Sequence[dict], limit: int, max_new_tokens: int,
                        device) -> dict[str, Any]:
    import torch

    from ibert_jupyter.training import attention
    from ibert_jupyter.verify import verify

    picked = [r for r in rows if r.get("task", "nl2ibis") in CODE_TASKS][:limit]
    checked = verified = 0
    skipped: dict[str, int] = {}
    samples = []
    attention.use(model, "sdpa")
    model.eval()
    try:
        for row in picked:
            try:
                tables = tables_from_schema(row.get("schema"))
            except Exception as exc:  # noqa: BLE001 - counted, never fatal
                key = f"unreadable schema ({type(exc).__name__})"
                skipped[key] = skipped.get(key, 0) + 1
                continue
            messages = row["messages"]
            last = max(i for i, m in enumerate(messages) if m["role"] == "assistant")
            prompt = chat_tokenizer.encode_chat([{"role": m["role"], "content": m["content"]} for m in messages[:last]])
            with torch.no_grad():
                out = model.generate(input_ids=torch.tensor([prompt], device=device), max_new_tokens=max_new_tokens,
                                     do_sample=False, use_cache=True,
                                     eos_token_id=sorted(getattr(chat_tokenizer, "eos_ids", ())) or None)
            text = chat_tokenizer.decode(out[0, len(prompt):].tolist())
            report = verify(extract_code(text), tables)
            checked += 1
            verified += int(report.ok)
            if len(samples) < 3:
                samples.append({"id": row.get("id"), "ok": report.ok, "stage": report.stage, "output": text[:300]})
    finally:
        attention.use(model, attention.NAME)
    return {"candidates": len(picked), "checked": checked, "verified": verified,
            "compile_rate": (verified / checked) if checked else None, "skipped": skipped, "samples": samples}
