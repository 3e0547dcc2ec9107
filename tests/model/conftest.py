"""A tiny Devstral for tests.

FAKE WEIGHTS: Devstral's weights cannot be downloaded here, so this fixture builds a
RANDOMLY INITIALISED model of Devstral-Small-2507's own architecture (MistralConfig /
MistralForCausalLM, shrunk sizes), a peft LoRA adapter saved next to it, and a Tekken
tokenizer file (mistral-common's format, byte-level vocab). It stands in for weights we
cannot have and is loaded through the production loader. Its outputs are noise.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ibert_jupyter.model import Completion, runtime


class ScriptedChatModel:
    """SCRIPTED: a ChatModel that replays fixed answers; stands in for Devstral's sampling."""

    name = "scripted"

    def __init__(self, texts):
        self.texts = texts
        self.requests = []

    def generate(self, request, on_token=None):
        self.requests.append(request)
        out = self.texts[: request.n]
        for i, text in enumerate(out):
            if on_token:
                on_token(i, text)
        return [Completion(text=t, tokens=len(t)) for t in out]


@pytest.fixture
def scripted_model():
    """The ScriptedChatModel class (tests build one with the answers they need)."""
    return ScriptedChatModel


def write_tekken(path) -> int:
    """A byte-level Tekken v7 tokenizer file; returns its vocabulary size."""
    from mistral_common.tokens.tokenizers.tekken import Tekkenizer

    n_special = len(Tekkenizer.DEPRECATED_SPECIAL_TOKENS)
    vocab = [{"rank": i, "token_bytes": base64.b64encode(bytes([i])).decode(), "token_str": None}
             for i in range(256)]
    data = {
        "config": {
            "pattern": r"[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+",
            "num_vocab_tokens": 256,
            "default_vocab_size": 256 + n_special,
            "default_num_special_tokens": n_special,
            "version": "v7",
        },
        "vocab": vocab,
    }
    path.write_text(json.dumps(data))
    return 256 + n_special


@pytest.fixture(scope="session")
def tiny_devstral(tmp_path_factory):
    """Directory with a FAKE (random) tiny Devstral + tekken.json, and a LoRA adapter dir."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import MistralConfig, MistralForCausalLM

    root = tmp_path_factory.mktemp("tiny-devstral")
    weights = root / "devstral"
    weights.mkdir()
    vocab_size = write_tekken(weights / "tekken.json")
    config = MistralConfig(
        vocab_size=vocab_size, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, head_dim=16, max_position_embeddings=4096,
        rope_theta=1_000_000_000.0, sliding_window=None, tie_word_embeddings=False,
        bos_token_id=1, eos_token_id=2,
    )
    torch.manual_seed(0)
    model = MistralForCausalLM(config).to(torch.bfloat16)
    model.save_pretrained(weights)
    lora = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]))
    with torch.no_grad():
        for name, param in lora.named_parameters():
            if "lora_B" in name:  # peft starts B at zero (a no-op adapter); make it matter
                param.normal_(0, 0.5)
    adapter = root / "ibert-lora"
    lora.save_pretrained(adapter)
    return {"weights": weights, "adapter": adapter}


@pytest.fixture
def fresh_runtime(tmp_path, monkeypatch):
    """Isolated runtime: no IBERT_* env leaks in, request log in tmp_path."""
    for var in list(__import__("os").environ):
        if var.startswith("IBERT_"):
            monkeypatch.delenv(var)
    monkeypatch.setenv("IBERT_LOG_DB", str(tmp_path / "requests.sqlite"))
    runtime.configure(None)
    yield
    runtime.configure(None)


@pytest.fixture
def shell(tpch_con, monkeypatch):
    """A real InteractiveShell with the %%ibert magic and TPC-H ``orders`` in its namespace."""
    from IPython.core.interactiveshell import InteractiveShell

    from ibert_jupyter.jupyter.magics_generate import GenerateMagics

    monkeypatch.delenv("IBERT_SERVER_URL", raising=False)
    sh = InteractiveShell.instance()
    sh.register_magics(GenerateMagics(shell=sh))
    sh.user_ns["orders"] = tpch_con.table("orders")
    sh.user_ns.pop("_ibert", None)
    yield sh


@pytest.fixture
def run_in_triton_interpreter():
    """Run a check script with TRITON_INTERPRET=1 (Triton's CPU interpreter) in a fresh process.

    Skips where triton is missing or a GPU is here (the gpu tests run the kernels for real); the
    script must print "ok" last.
    """
    pytest.importorskip("triton")
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is here: the gpu tests run the kernels for real")
    root = str(Path(__file__).resolve().parents[2])

    def run(script: str) -> None:
        env = dict(os.environ, TRITON_INTERPRET="1", PYTHONPATH=os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]))
        done = subprocess.run([sys.executable, "-c", script], cwd=root, env=env, capture_output=True, text=True,
                              timeout=600)
        assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-3000:]

    return run


@pytest.fixture
def jp_server_config(tiny_devstral, tmp_path, monkeypatch):
    """pytest-jupyter's server config for this folder: iBERT's extension hosting the FAKE tiny Devstral."""
    monkeypatch.setenv("IBERT_LOG_DB", str(tmp_path / "requests.sqlite"))
    monkeypatch.setenv("IBERT_MAX_NEW_TOKENS", "8")
    yield {
        "ServerApp": {"jpserver_extensions": {"ibert_jupyter": True}},
        "IbertModel": {"model": str(tiny_devstral["weights"]), "device": "cpu"},
    }
    runtime.configure(None)
