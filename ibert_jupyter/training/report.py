"""Plain-text views of a run for the notebook (readable in a saved .ipynb without widgets)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def loss_table(path: str | Path, rows: int = 12) -> str:
    """Train loss, lr and tok/s at ~``rows`` evenly spaced steps, plus every dev loss."""
    metrics = read_metrics(path)
    train = [m for m in metrics if "train/loss" in m]
    dev = [m for m in metrics if "dev/loss" in m]
    if not train:
        return "no training steps logged"
    stride = max(1, len(train) // rows)
    picked = train[::stride] + ([train[-1]] if (len(train) - 1) % stride else [])
    lines = [f"{'step':>6} {'loss':>8} {'lr':>10} {'tok/s':>9} {'peak GiB':>9}"]
    for m in picked:
        peak = m.get("train/gpu_peak_gib")
        lines.append(f"{m['step']:>6} {m['train/loss']:>8.4f} {m['train/lr']:>10.2e} "
                     f"{m['train/tokens_per_s']:>9.0f} {peak if peak is not None else '-':>9}")
    lines += [f"dev loss at step {m['step']}: {m['dev/loss']:.4f}" for m in dev]
    return "\n".join(lines)


def verify_table(verify: dict[str, Any]) -> str:
    if not verify:
        return "verified-generation check: skipped (verify_examples=0)"
    rate = verify.get("compile_rate")
    head = (f"verified-generation check on the dev split: {verify['verified']}/{verify['checked']} candidates "
            f"passed the verifier" + (f" ({rate:.0%})" if rate is not None else ""))
    if "gold_verified" in verify:
        head += f"; the dataset's own answers: {verify['gold_verified']}/{verify['checked']} (control)"
    if verify.get("skipped"):
        head += f"; skipped {verify['skipped']}"
    return head


def trim_notebook(path: str | Path, max_chars: int = 4000) -> None:
    """Keep an executed notebook readable as a record: drop progress bars, widget views and W&B chatter,
    cap each text output at ``max_chars``."""
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        kept = []
        for out in cell.get("outputs", []):
            if out.output_type == "display_data" and "application/vnd.jupyter.widget-view+json" in out.get("data", {}):
                continue
            if out.output_type == "stream":
                lines = [ln.rsplit("\r", 1)[-1] for ln in out.text.split("\n")]
                lines = [ln for ln in lines if ln.strip() and not ln.startswith(("wandb:", "\x1b[34m\x1b[1mwandb"))
                         and "it/s]" not in ln and "s/it]" not in ln and "warnings.warn" not in ln and "Warning:" not in ln]
                if not lines:
                    continue
                text = "\n".join(lines) + "\n"
                out.text = text if len(text) <= max_chars else text[:max_chars] + "\n... (trimmed)\n"
            kept.append(out)
        cell.outputs = kept
    nbformat.write(nb, str(path))
