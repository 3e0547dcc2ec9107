"""Attention for packed rows: each example attends to itself only (causal), never to its neighbours.

Registered with transformers as ``ibert_packed``. The model passes ``ibert_cu_seqlens`` (example
boundaries in the flattened row) down to every attention call; each span runs through PyTorch's
fused scaled-dot-product attention (FlashAttention kernel on a GPU) with its own causal mask, so
no [tokens x tokens] mask is ever built and no cross-example work is done. Without boundaries
it is plain causal attention.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

NAME = "ibert_packed"


def packed_attention(module, query, key, value, attention_mask=None, scaling=None, dropout=0.0, **kwargs):
    """query [B, H, S, D], key/value [B, Hkv, S, D] -> ([B, S, H, D], None)."""
    if query.shape[2] != key.shape[2]:
        raise RuntimeError("ibert_packed attention is for training (no KV cache); generate with sdpa")
    bounds = kwargs.get("ibert_cu_seqlens")
    gqa = query.shape[1] != key.shape[1]
    p = dropout if module.training else 0.0
    if not bounds or len(bounds) <= 2:
        out = F.scaled_dot_product_attention(query, key, value, is_causal=True, scale=scaling,
                                             dropout_p=p, enable_gqa=gqa)
    else:
        parts = [
            F.scaled_dot_product_attention(query[:, :, a:b], key[:, :, a:b], value[:, :, a:b], is_causal=True,
                                           scale=scaling, dropout_p=p, enable_gqa=gqa)
            for a, b in zip(bounds[:-1], bounds[1:])
        ]
        out = torch.cat(parts, dim=2)
    return out.transpose(1, 2).contiguous(), None


def register() -> str:
    from transformers import AttentionInterface

    AttentionInterface.register(NAME, packed_attention)
    return NAME


def use(model, name: str) -> None:
    """Switch a (peft-wrapped) transformers model's attention implementation."""
    if name == NAME:
        register()
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    try:
        base.set_attn_implementation(name)
    except Exception:  # noqa: BLE001 - older transformers: set the config field directly
        base.config._attn_implementation = name
