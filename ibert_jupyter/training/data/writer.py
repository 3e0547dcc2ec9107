"""Write the dataset folder (contract C): data/{train,dev,test}.parquet, README.md, stats.json, PNG."""

from __future__ import annotations

import collections
import json
import shutil
from pathlib import Path
from typing import Any

COLUMNS = ("id", "task", "source", "schema", "template", "split", "messages", "code", "n_tokens",
           "sql", "result_rows", "result_hash", "context", "broken_code", "error_type", "tags", "program_id")


def write(cfg, kept: list[dict], rejections, info: dict, tokenizer_label: str, semgrep_note: str | None, wall_s: float) -> dict[str, Any]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ibert_jupyter.training.data.splitting import SPLITS

    out = Path(cfg.out)
    data = out / "data"
    if data.exists():
        shutil.rmtree(data)
    data.mkdir(parents=True)
    kept = sorted(kept, key=lambda e: e["id"])
    for split in SPLITS:
        rows = [{k: e[k] for k in COLUMNS} for e in kept if e["split"] == split]
        pq.write_table(pa.Table.from_pylist(rows, schema=_schema()), data / f"{split}.parquet", compression="zstd")
    count = lambda key: dict(sorted(collections.Counter(e[key] for e in kept).items()))  # noqa: E731
    by_source = collections.Counter(e["source"].split(":")[0] for e in kept)
    tokens = [e["n_tokens"] for e in kept]
    stats = {
        "examples": len(kept),
        "by_task": count("task"),
        "by_source": dict(sorted(by_source.items())),
        "by_repair_mistake": dict(sorted(collections.Counter(e["source"].split(":", 1)[1] for e in kept if e["task"] == "repair").items())),
        "by_schema": count("schema"),
        "by_split": count("split"),
        "by_split_task": {s: dict(collections.Counter(e["task"] for e in kept if e["split"] == s)) for s in SPLITS},
        "schemas": sorted({e["schema"] for e in kept if e["schema"] != "ibis_docs"}),
        "templates": len({e["template"] for e in kept}),
        "groups": info["groups"],
        "rejected_by_stage": dict(sorted(rejections.by_stage.items())),
        "rejected_by_reason": dict(sorted(rejections.by_reason.items())),
        "verified_fraction": info["verified_fraction"],  # of a fresh re-check of a random sample (every kept one passed when made)
        "verified_sample": info["verified_sample"],
        "contaminated": info["recheck"],
        "benchmark_items": info["benchmark_items"],
        "benchmark_sources": info["benchmark_sources"],
        "tokenizer": tokenizer_label,
        "n_tokens": {"min": min(tokens, default=0), "max": max(tokens, default=0),
                     "mean": round(sum(tokens) / max(1, len(tokens)), 1), "total": sum(tokens)},
        "semgrep": semgrep_note or f"{sum(1 for e in kept if e['tags'])} examples tagged",
        "semgrep_tags": dict(collections.Counter(t for e in kept for t in e["tags"]).most_common()),
        "seed": cfg.seed,
        "size": cfg.size,
        "wall_s": round(wall_s, 1),
        "examples_per_s": round(len(kept) / max(wall_s, 1e-9), 1),
    }
    (out / "stats.json").write_text(json.dumps(stats, indent=1))
    histogram(tokens, {t: [e["n_tokens"] for e in kept if e["task"] == t] for t in stats["by_task"]}, out / "token_lengths.png", tokenizer_label)
    from ibert_jupyter.training.data.card import card

    (out / "README.md").write_text(card(stats))
    return stats


def _schema():
    import pyarrow as pa

    message = pa.struct([("role", pa.string()), ("content", pa.string())])
    fields = [(c, pa.string()) for c in COLUMNS]
    types = dict(fields)
    types.update(messages=pa.list_(message), n_tokens=pa.int64(), result_rows=pa.int64(), tags=pa.list_(pa.string()))
    return pa.schema([(c, types[c]) for c in COLUMNS])


def histogram(tokens: list[int], by_task: dict[str, list[int]], path: Path, label: str) -> None:
    """A stacked bar histogram of chat lengths per task, drawn with Pillow (matplotlib is not installed)."""
    from PIL import Image, ImageDraw

    width, height, left, bottom, top = 900, 420, 60, 50, 40
    bins = 40
    hi = max(tokens, default=1)
    step = max(1, -(-hi // bins))
    palette = {"nl2ibis": (31, 119, 180), "sql2ibis": (255, 127, 14), "repair": (44, 160, 44), "api_qa": (214, 39, 40), "fim": (148, 103, 189)}
    counts = {t: [0] * bins for t in by_task}
    for t, values in by_task.items():
        for v in values:
            counts[t][min(bins - 1, v // step)] += 1
    totals = [sum(counts[t][b] for t in counts) for b in range(bins)]
    peak = max(totals, default=1) or 1
    img = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(img)
    plot_w, plot_h = width - left - 20, height - top - bottom
    bar_w = plot_w / bins
    for b in range(bins):
        y = height - bottom
        for t in counts:
            h = counts[t][b] / peak * plot_h
            if h:
                draw.rectangle([left + b * bar_w, y - h, left + (b + 1) * bar_w - 1, y], fill=palette.get(t, (120, 120, 120)))
            y -= h
    draw.line([left, height - bottom, width - 20, height - bottom], fill="black")
    draw.line([left, top, left, height - bottom], fill="black")
    for b in range(0, bins + 1, 5):
        x = left + b * bar_w
        draw.text((x - 10, height - bottom + 5), str(b * step), fill="black")
    draw.text((left, height - 20), "tokens per chat (Devstral chat format)", fill="black")
    draw.text((5, top - 15), f"examples (peak bin {peak})", fill="black")
    short = "bundled tekken_240911.json, not Devstral's own" if "bundled" in label else label.split(" (")[0]
    draw.text((left, 5), f"Token lengths of {len(tokens)} examples (tokenizer: {short})", fill="black")
    x = width - 160
    for i, t in enumerate(counts):
        draw.rectangle([x, top + i * 16, x + 10, top + i * 16 + 10], fill=palette.get(t, (120, 120, 120)))
        draw.text((x + 15, top + i * 16), f"{t} ({len(by_task[t])})", fill="black")
    img.save(path)
