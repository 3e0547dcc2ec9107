"""A tiny Devstral for the e2e benchmark's CPU test.

FAKE WEIGHTS: a RANDOMLY INITIALISED model of Devstral-Small-2507's architecture, shrunk
(the same recipe as tests/model/conftest.py, whose fixtures this folder cannot see), with a
byte-level Tekken tokenizer file. Its outputs are noise; only timing paths are exercised.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest


def _write_tekken(path) -> int:
    spec = importlib.util.spec_from_file_location("_model_conftest", Path(__file__).parents[1] / "model" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.write_tekken(path)


@pytest.fixture(scope="session")
def tiny_devstral_weights(tmp_path_factory):
    import torch
    from transformers import MistralConfig, MistralForCausalLM

    weights = tmp_path_factory.mktemp("tiny-devstral-e2e")
    vocab_size = _write_tekken(weights / "tekken.json")
    config = MistralConfig(vocab_size=vocab_size, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                           num_attention_heads=4, num_key_value_heads=2, head_dim=16, max_position_embeddings=8192,
                           rope_theta=1_000_000_000.0, sliding_window=None, tie_word_embeddings=False,
                           bos_token_id=1, eos_token_id=2)
    torch.manual_seed(0)
    MistralForCausalLM(config).to(torch.bfloat16).save_pretrained(weights)
    return weights
