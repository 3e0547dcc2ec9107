"""Fixtures for the trainer's tests.

FAKE WEIGHTS: a tiny RANDOMLY INITIALISED model of Devstral-Small-2507's architecture (shrunk
MistralConfig) with a byte-level Tekken file, saved as a checkpoint folder so the production
resolver and loader read it. The dataset is made here, in the `ibert data build` layout
(contract C: data/{train,dev,test}.parquet with id, task, source, schema, template, split,
messages, code, n_tokens).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SNAPSHOT = {"tables": [{"variable": "orders", "name": "orders", "backend": "duckdb", "columns": [
    {"name": "o_orderkey", "type": "int64"}, {"name": "o_totalprice", "type": "float64"},
    {"name": "o_orderdate", "type": "date"}]}]}
PROGRAMS = [
    ("total price of all orders", "orders.o_totalprice.sum()"),
    ("orders above 100", "orders.filter(orders.o_totalprice > 100)"),
    ("count the orders", "orders.count()"),
    ("largest order price", "orders.o_totalprice.max()"),
    ("orders sorted by date", "orders.order_by(orders.o_orderdate)"),
    ("the order keys", "orders.select('o_orderkey')"),
    ("mean order price", "orders.o_totalprice.mean()"),
    ("first ten orders", "orders.limit(10)"),
]


def _write_tekken(path: Path) -> int:
    spec = importlib.util.spec_from_file_location("model_conftest", Path(__file__).parents[1] / "model" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.write_tekken(path)


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory) -> Path:
    """A checkpoint folder of a FAKE (random) tiny Devstral + its tekken.json."""
    import torch
    from transformers import MistralConfig, MistralForCausalLM

    folder = tmp_path_factory.mktemp("tiny-devstral-train")
    vocab = _write_tekken(folder / "tekken.json")
    config = MistralConfig(
        vocab_size=vocab, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, head_dim=16, max_position_embeddings=4096, rope_theta=1_000_000_000.0,
        sliding_window=None, tie_word_embeddings=False, bos_token_id=1, eos_token_id=2,
        initializer_range=0.2,  # wide enough that a frozen random head can express a learnt answer
    )
    torch.manual_seed(0)
    MistralForCausalLM(config).to(torch.bfloat16).save_pretrained(folder)
    return folder


def make_dataset(folder: Path, n_train: int = 8, n_dev: int = 4) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ibert_jupyter.model.prompts import generation_messages

    (folder / "data").mkdir(parents=True, exist_ok=True)
    splits = {"train": PROGRAMS[:n_train], "dev": PROGRAMS[:n_dev], "test": PROGRAMS[:2]}
    for split, pairs in splits.items():
        rows = []
        for i, (request, code) in enumerate(pairs):
            rows.append({
                "id": f"{split}-{i}", "task": "nl2ibis", "source": "test-fixture", "schema": "orders",
                "template": f"t{i}", "split": split,
                "messages": [*generation_messages(request, SNAPSHOT),
                             {"role": "assistant", "content": f"```python\n{code}\n```"}],
                "code": code, "n_tokens": 0,
            })
        pq.write_table(pa.Table.from_pylist(rows), folder / "data" / f"{split}.parquet")
    (folder / "README.md").write_text("# tiny test dataset (made by the test)\n")
    return folder


@pytest.fixture(scope="session")
def quiet_env() -> dict[str, str]:
    """Environment for trainer subprocesses: one thread each (CI has 2 cores), W&B offline and quiet."""
    import os

    return dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", WANDB_MODE="offline", WANDB_SILENT="true",
                TOKENIZERS_PARALLELISM="false")


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("tiny-ibert-data"))
