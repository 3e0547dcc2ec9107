"""The trainer end to end on CPU: `ibert train` runs the notebook through papermill on a FAKE
(random) tiny Devstral and a tiny dataset made here; the loss on the fixed set falls, the adapter
loads through the production loader and changes the output, W&B's offline run holds the metrics,
and a second run resumes from the checkpoint."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
STEPS = 10


@pytest.fixture(scope="module")
def notebook_run(tiny_base, tiny_dataset, tmp_path_factory, quiet_env):
    out = tmp_path_factory.mktemp("run")
    cmd = [sys.executable, "-m", "ibert_jupyter.cli", "train", "--dataset", str(tiny_dataset), "--output", str(out),
           "--base-model", str(tiny_base), "--quantization", "bf16", "--steps", str(STEPS),
           "-p", "device", "cpu", "-p", "seq_len", "8192", "-p", "learning_rate", "0.01", "-p", "lr_schedule", "constant",
           "-p", "warmup_steps", "0", "-p", "eval_every", "5", "-p", "save_every", "5", "-p", "verify_examples", "2",
           "-p", "max_new_tokens", "12"]
    done = subprocess.run(cmd, env=quiet_env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    return out, json.loads(done.stdout.strip().splitlines()[-1])


def test_notebook_runs_end_to_end_and_is_kept(notebook_run):
    out, summary = notebook_run
    import nbformat

    nb = nbformat.read(out / "train_adapter.ipynb", as_version=4)
    assert nb.metadata["papermill"]["parameters"]["max_steps"] == STEPS
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "verified-generation check on the dev split" in text
    assert summary["steps"] == STEPS and summary["verify"]["checked"] == 2  # tables read back from the prompts


def test_loss_on_the_fixed_set_falls_by_half(notebook_run):
    out, summary = notebook_run
    # every step sees the same packed row (all 8 examples fit one row): an overfit run on a fixed set
    info = json.loads((out / "run_info.json").read_text())
    assert info["train_rows"] == 1 and info["train_dropped"] == 0
    assert summary["last_loss"] <= summary["first_loss"] / 2, summary


def test_adapter_loads_through_the_production_loader_and_changes_the_output(notebook_run, tiny_base):
    import torch

    from ibert_jupyter.model.config import ModelSettings
    from ibert_jupyter.model.loader import load_local

    out, summary = notebook_run
    adapter = Path(summary["adapter_dir"])
    assert json.loads((adapter / "adapter_config.json").read_text())["r"] == 16  # vLLM --lora-modules reads this folder
    plain = load_local(ModelSettings(model=str(tiny_base), device="cpu"))
    tuned = load_local(ModelSettings(model=str(tiny_base), adapter=str(adapter), device="cpu"))
    ids = torch.tensor([plain.tokenizer.encode_chat([{"role": "user", "content": "count the orders"}])])
    with torch.no_grad():
        a, b = plain.model(ids).logits, tuned.model(ids).logits
    assert (a - b).abs().max() > 1e-2


def test_offline_wandb_run_holds_the_metrics(notebook_run):
    _, summary = notebook_run
    run_dir = Path(summary["wandb_dir"])
    assert run_dir.name.startswith("offline-run-")
    records = b"".join(p.read_bytes() for p in run_dir.glob("*.wandb"))
    for key in (b"train/loss", b"train/lr", b"train/tokens_per_s", b"dev/loss"):
        assert key in records
    assert b"last_loss" in records and b"ibert-lora" in records  # the summary and the adapter artifact
    record = json.loads((run_dir.parents[1] / "wandb_summary.json").read_text())
    assert record["mode"] == "offline" and record["summary"]["last_loss"] == pytest.approx(summary["last_loss"])


def test_resume_continues_from_the_last_checkpoint(notebook_run, tiny_base, tiny_dataset):
    from ibert_jupyter.training import TrainConfig, train

    out, _ = notebook_run
    config = TrainConfig(base_model=str(tiny_base), dataset=str(tiny_dataset), output_dir=str(out), quantization="bf16",
                         device="cpu", seq_len=8192, max_steps=STEPS + 2, learning_rate=0.01, lr_schedule="constant",
                         warmup_steps=0, eval_every=0, verify_examples=0, wandb_mode="disabled")
    result = train(config)
    assert result.resumed_from == STEPS and result.steps == STEPS + 2
    assert result.last_loss < 2.0  # it continued from the trained adapter, not from scratch


def test_missing_weights_raise_model_unavailable(tiny_dataset, tmp_path):
    from ibert_jupyter.model.errors import ModelUnavailable
    from ibert_jupyter.training import TrainConfig, train

    config = TrainConfig(base_model=str(tmp_path / "no-such-devstral"), dataset=str(tiny_dataset),
                         output_dir=str(tmp_path / "out"), quantization="bf16", device="cpu", wandb_mode="disabled")
    with pytest.raises(ModelUnavailable, match="huggingface-cli download"):
        train(config)


def test_bad_parameters_are_named():
    from ibert_jupyter.training import TrainConfig

    with pytest.raises(ValueError, match="unknown training parameter"):
        TrainConfig.from_params({"lora_rank": 8})
    with pytest.raises(ValueError, match="quantization must be one of"):
        TrainConfig(quantization="int3")
