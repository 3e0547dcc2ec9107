"""Devstral's published shapes and a RANDOMLY INITIALISED model of them.

Devstral's weights cannot be downloaded here; speed and memory depend only on shapes and dtypes,
so benchmarks (decode, train, e2e) and tests build random weights of the exact architecture.
Every record of such a run says "random".
"""

from __future__ import annotations

# Devstral-Small-2507 config.json (MistralForCausalLM), as published by Mistral AI.
DEVSTRAL_SMALL_2507 = dict(
    vocab_size=131072,
    hidden_size=5120,
    intermediate_size=32768,
    num_hidden_layers=40,
    num_attention_heads=32,
    num_key_value_heads=8,
    head_dim=128,
    max_position_embeddings=131072,
    rms_norm_eps=1e-5,
    rope_theta=1_000_000_000.0,
    sliding_window=None,
    tie_word_embeddings=False,
    hidden_act="silu",
)
# Same architecture, shrunk: lets the benchmark itself be tested on a CPU.
TINY = dict(DEVSTRAL_SMALL_2507, vocab_size=512, hidden_size=64, intermediate_size=128,
            num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, head_dim=16)
CONFIGS = {"devstral-small-2507": DEVSTRAL_SMALL_2507, "tiny": TINY}


def build_random_model(config_name: str, dtype: str, device):
    """Devstral-architecture model with random weights, built directly on ``device``."""
    import torch
    from transformers import MistralConfig, MistralForCausalLM

    config = MistralConfig(**CONFIGS[config_name])
    torch.manual_seed(0)
    with torch.device(device):
        model = MistralForCausalLM._from_config(config, dtype=torch.bfloat16)
    model.eval().requires_grad_(False)
    if dtype == "nf4":
        quantize_nf4_(model)
    return model


def quantize_nf4_(model) -> None:
    """Swap every decoder Linear for a bitsandbytes NF4 Linear4bit (lm_head stays bf16,
    as transformers' BitsAndBytesConfig does), freeing the bf16 copy layer by layer."""
    import bitsandbytes as bnb
    import torch

    for layer in model.model.layers:
        for parent in (layer.self_attn, layer.mlp):
            for name, child in list(parent.named_children()):
                if not isinstance(child, torch.nn.Linear):
                    continue
                weight = child.weight.data
                q = bnb.nn.Linear4bit(child.in_features, child.out_features, bias=child.bias is not None,
                                      compute_dtype=torch.bfloat16, compress_statistics=True,
                                      quant_type="nf4", device="meta")
                q.weight = bnb.nn.Params4bit(weight, requires_grad=False, compress_statistics=True,
                                             quant_type="nf4").to(weight.device)
                setattr(parent, name, q)
                del child, weight
        torch.cuda.empty_cache()
