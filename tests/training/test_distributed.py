"""The same trainer under torchrun: 2 CPU processes (gloo, DDP through accelerate) on the FAKE tiny Devstral."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_cpu_processes_train_one_adapter(tiny_base, tiny_dataset, tmp_path, quiet_env):
    out = tmp_path / "ddp"
    config = tmp_path / "run.json"
    config.write_text(json.dumps({
        "base_model": str(tiny_base), "dataset": str(tiny_dataset), "output_dir": str(out), "quantization": "bf16",
        "device": "cpu", "seq_len": 2048, "max_steps": 3, "learning_rate": 0.01, "warmup_steps": 0,
        "eval_every": 0, "verify_examples": 0, "wandb_mode": "disabled",
    }))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-addr", "127.0.0.1",
           "--master-port", str(_free_port()), "-m", "ibert_jupyter.training.launch", "--config", str(config)]
    done = subprocess.run(cmd, env=quiet_env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    info = json.loads((out / "run_info.json").read_text())
    assert info["world_size"] == 2 and info["train_rows"] >= 2  # each process took its own rows
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["steps"] == 3 and (out / "adapter" / "adapter_model.safetensors").is_file()
    # rank 0 alone writes the record: one metrics line per step
    assert len((out / "metrics.jsonl").read_text().splitlines()) >= 3
