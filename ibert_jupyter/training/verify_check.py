"""End-of-run check: generate for dev examples and count how many programs pass the verifier.

The prompt is each example's conversation up to its last assistant message; the answer's code
(from a fenced block, else the whole text) goes through ``ibert_jupyter.verify.verify`` against
unbound tables rebuilt from the prompt's "Tables in the notebook" list (the runtime's own prompt
format, ``model.prompts.describe_tables``), so the check sees exactly the tables the model saw. A RANDOM base model scores ~0: that is the
expected, honest number for it.
"""

from __future__ import annotations

import json
import re
from typing import Any, Sequence

CODE_TASKS = frozenset({"nl2ibis", "sql2ibis", "repair"})  # answers that are whole programs
TABLES_HEADER = "Tables in the notebook:\n"  # model.prompts.describe_tables
TABLES_JSON_HEADER = "Tables in the notebook (variable -> column -> type):\n"  # the repair prompt
TABLE_LINE = re.compile(r"^- (\w+)(?: \[[^\]]*\])?: (.*)$")


def split_columns(text: str) -> list[str]:
    """Split "a: int64, b: decimal(12, 2), c: struct<x: int8, y: string>" at top-level commas."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += ch in "<([" 
        depth -= ch in ">)]"
        if ch == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return [p for p in parts if p and not p.startswith("...")]


def tables_from_prompt(text: str) -> dict:
    """Unbound ibis tables from the "Tables in the notebook" list of a generation prompt."""
    import ibis

    if TABLES_JSON_HEADER in text:
        columns_by_table, _ = json.JSONDecoder().raw_decode(text.split(TABLES_JSON_HEADER, 1)[1])
        return {name: ibis.table(ibis.schema(cols), name=name) for name, cols in columns_by_table.items()}
    if TABLES_HEADER not in text:
        raise ValueError("the prompt lists no tables")
    tables = {}
    for line in text.split(TABLES_HEADER, 1)[1].splitlines():
        match = TABLE_LINE.match(line)
        if not match:
            break
        columns = dict(part.split(": ", 1) for part in split_columns(match.group(2)))
        tables[match.group(1)] = ibis.table(ibis.schema(columns), name=match.group(1))
    if not tables:
        raise ValueError("the prompt's table list is empty")
    return tables


def verified_generation(model, chat_tokenizer, rows: Sequence[dict], limit: int, max_new_tokens: int,
                        device) -> dict[str, Any]:
    import torch

    from ibert_jupyter.model.prompts import extract_code
    from ibert_jupyter.training import attention
    from ibert_jupyter.verify import verify

    picked = [r for r in rows if r.get("task", "nl2ibis") in CODE_TASKS][:limit]
    checked = verified = gold = 0
    skipped: dict[str, int] = {}
    samples = []
    attention.use(model, "sdpa")
    model.eval()
    try:
        for row in picked:
            messages = row["messages"]
            last = max(i for i, m in enumerate(messages) if m["role"] == "assistant")
            try:
                tables = tables_from_prompt("\n".join(m["content"] for m in messages[:last] if m["role"] == "user"))
            except Exception as exc:  # noqa: BLE001 - counted, never fatal
                key = f"tables unreadable ({type(exc).__name__})"
                skipped[key] = skipped.get(key, 0) + 1
                continue
            prompt = chat_tokenizer.encode_chat([{"role": m["role"], "content": m["content"]} for m in messages[:last]])
            with torch.no_grad():
                out = model.generate(input_ids=torch.tensor([prompt], device=device), max_new_tokens=max_new_tokens,
                                     do_sample=False, use_cache=True,
                                     eos_token_id=sorted(getattr(chat_tokenizer, "eos_ids", ())) or None)
            text = chat_tokenizer.decode(out[0, len(prompt):].tolist())
            report = verify(extract_code(text), tables)
            gold += int(verify(extract_code(messages[last]["content"]), tables).ok)  # control: the dataset's answer
            checked += 1
            verified += int(report.ok)
            if len(samples) < 3:
                samples.append({"id": row.get("id"), "ok": report.ok, "stage": report.stage, "output": text[:300]})
    finally:
        attention.use(model, attention.NAME)
    return {"candidates": len(picked), "checked": checked, "verified": verified,
            "compile_rate": (verified / checked) if checked else None,
            "gold_verified": gold, "skipped": skipped, "samples": samples}
