"""The training forward of a peft-wrapped Mistral decoder, with grouped LoRA GEMMs.

Same arithmetic as transformers' ``MistralDecoderLayer`` under peft (tested against it), but
q/k/v and gate/up each run as one :class:`~ibert_jupyter.training.fused_lora.LoraGroup`, the
adapters compute in the model's dtype (peft upcasts them to fp32: a copy of every input and
output), and on a GPU the elementwise steps use Liger's Triton kernels when installed
(RMSNorm, RoPE, SwiGLU straight from the fused gate/up output). Packed rows keep attention
inside each example (``attention.packed_attention``). Each layer is checkpointed when its
``gradient_checkpointing`` flag is on, like transformers' own layers.

The adapter parameters stay peft's own, so saving, loading and DDP see nothing new.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch.utils.checkpoint import checkpoint

from ibert_jupyter.training.attention import packed_attention
from ibert_jupyter.training.config import KERNELS
from ibert_jupyter.training.fused_lora import LoraGroup, NotFusable


class Ops:
    """The elementwise steps: PyTorch reference ops, or Liger's kernels (CUDA only)."""

    name = "torch"

    def rms_norm(self, x, norm):
        return norm(x)

    def rope(self, q, k, cos, sin):
        from transformers.models.mistral.modeling_mistral import apply_rotary_pos_emb

        return apply_rotary_pos_emb(q, k, cos, sin)

    def swiglu(self, gate_up, act: Callable):
        gate, up = gate_up.chunk(2, dim=-1)
        return act(gate) * up


class LigerOps(Ops):
    name = "liger"

    def __init__(self):
        from liger_kernel.ops.rms_norm import LigerRMSNormFunction
        from liger_kernel.ops.rope import LigerRopeFunction
        from liger_kernel.ops.swiglu import LigerFusedGateUpSiLUMulFunction

        self._norm, self._rope, self._swiglu = LigerRMSNormFunction, LigerRopeFunction, LigerFusedGateUpSiLUMulFunction

    def rms_norm(self, x, norm):
        flat = x.reshape(-1, x.shape[-1])
        return self._norm.apply(flat, norm.weight, norm.variance_epsilon, 0.0, "llama", True).view(x.shape)

    def rope(self, q, k, cos, sin):
        return self._rope.apply(q, k, cos, sin)

    def swiglu(self, gate_up, act):
        flat = gate_up.reshape(-1, gate_up.shape[-1])  # the kernel's gradient comes back 2-D
        out = self._swiglu.apply(flat, True)  # in place: backward runs once per (re)computation
        return out.view(*gate_up.shape[:-1], out.shape[-1])


def pick_ops(kernels: str, device: torch.device) -> Ops:
    if kernels not in KERNELS:
        raise ValueError(f"kernels must be one of {KERNELS}, got {kernels!r}")
    if kernels == "torch" or (kernels == "auto" and device.type != "cuda"):
        return Ops()
    try:
        return LigerOps()
    except ImportError as exc:
        if kernels == "liger":
            raise ImportError("kernels='liger' needs liger-kernel (pip install 'ibert-jupyter[training]')") from exc
        return Ops()


class _Layer:
    def __init__(self, layer):
        attn, mlp = layer.self_attn, layer.mlp
        if getattr(mlp, "act_fn", None) is None or mlp.act_fn.__class__.__name__ not in ("SiLU", "SiLUActivation"):
            raise NotFusable("the MLP is not SwiGLU")
        self.layer = layer
        self.qkv = LoraGroup([attn.q_proj, attn.k_proj, attn.v_proj])
        self.o = LoraGroup([attn.o_proj])
        self.gate_up = LoraGroup([mlp.gate_proj, mlp.up_proj])
        self.down = LoraGroup([mlp.down_proj])
        self.qkv_sizes = tuple(b - a for a, b in (m.rows for m in self.qkv.members))  # q, k, v widths
        self.head_dim = attn.head_dim
        self.scaling = attn.scaling


class FusedLoraDecoder:
    """``hidden = decoder(input_ids, position_ids, cu_seqlens)`` for a peft-wrapped Mistral model."""

    def __init__(self, peft_model, kernels: str = "auto"):
        causal_lm = peft_model.get_base_model() if hasattr(peft_model, "get_base_model") else peft_model
        config = causal_lm.config
        if config.model_type not in ("mistral", "llama"):
            raise NotFusable(f"model type {config.model_type!r}")
        if getattr(config, "sliding_window", None):
            raise NotFusable("sliding-window attention")
        self.decoder = causal_lm.model
        self.layers = [_Layer(layer) for layer in self.decoder.layers]
        self.ops = pick_ops(kernels, self.decoder.embed_tokens.weight.device)

    @classmethod
    def try_build(cls, peft_model, kernels: str = "auto", log: Callable[[str], Any] | None = None):
        """The fused decoder, or None (with the reason logged) when this model cannot take it."""
        try:
            return cls(peft_model, kernels)
        except NotFusable as exc:
            if log is not None:
                log(f"grouped-LoRA path off ({exc}); using peft's forward")
            return None

    def _layer(self, fused: _Layer, hidden, cos, sin, bounds):
        ops, layer = self.ops, fused.layer
        tokens = hidden.shape[:-1]
        normed = ops.rms_norm(hidden, layer.input_layernorm)
        qkv = fused.qkv(normed)
        q, k, v = qkv.split(fused.qkv_sizes, dim=-1)
        q = q.reshape(*tokens, -1, fused.head_dim).transpose(1, 2)
        k = k.reshape(*tokens, -1, fused.head_dim).transpose(1, 2)
        v = v.reshape(*tokens, -1, fused.head_dim).transpose(1, 2)
        q, k = ops.rope(q, k, cos, sin)
        attn, _ = packed_attention(layer.self_attn, q, k, v, scaling=fused.scaling, ibert_cu_seqlens=bounds)
        hidden = hidden + fused.o(attn.reshape(*tokens, -1))
        normed = ops.rms_norm(hidden, layer.post_attention_layernorm)
        act = ops.swiglu(fused.gate_up(normed), layer.mlp.act_fn)
        return hidden + fused.down(act)

    def __call__(self, input_ids, position_ids, cu_seqlens=None):
        hidden = self.decoder.embed_tokens(input_ids)
        cos, sin = self.decoder.rotary_emb(hidden, position_ids)
        grad = torch.is_grad_enabled()
        for fused in self.layers:
            if grad and fused.layer.training and getattr(fused.layer, "gradient_checkpointing", False):
                hidden = checkpoint(self._layer, fused, hidden, cos, sin, cu_seqlens, use_reentrant=False)
            else:
                hidden = self._layer(fused, hidden, cos, sin, cu_seqlens)
        return self.ops.rms_norm(hidden, self.decoder.norm)

