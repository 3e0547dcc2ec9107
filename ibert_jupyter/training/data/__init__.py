"""Training data for iBERT's adapter: tool-verified, multi-task, decontaminated (``ibert data build``)."""

from __future__ import annotations

from pathlib import Path


def load_splits(folder: str | Path) -> dict:
    """``{"train", "dev", "test"} -> datasets.Dataset`` from a folder written by ``ibert data build``."""
    import datasets

    data = Path(folder) / "data"
    files = {}
    for split in ("train", "dev", "test"):
        found = sorted(data.glob(f"{split}.parquet")) or sorted(data.glob(f"{split}-*-of-*.parquet"))
        if found:
            files[split] = [str(p) for p in found]
    if not files:
        raise FileNotFoundError(f"{data} holds no train/dev/test parquet files: run `ibert data build --out {folder}`")
    loaded = datasets.load_dataset("parquet", data_files=files)
    return {split: loaded[split] for split in files}
