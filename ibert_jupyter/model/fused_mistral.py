"""A decode-first forward pass for Mistral-architecture Devstral (Small 2505 / 2507).

Batch-1 decode reads every weight once per token, so its speed is set by how close the
matrix-vector products get to HBM bandwidth and by how little else runs between them.
The transformers forward is written for generality; this one, over the *same* parameters:

- fuses q/k/v and gate/up into one matrix each (two weight streams per layer instead of
  five). The original ``nn.Linear`` weights become views into the fused matrices, so no
  memory is duplicated and the transformers model keeps working;
- keeps its own static KV cache, one tensor per layer, so a decode step has fixed shapes
  and can be captured once in a CUDA graph (see ``fast_decode.py``);
- computes grouped-query attention as two batched matmuls over the KV heads (no
  ``repeat_kv`` copy of the cache), with transformers' eager numerics: fp32 softmax.

Semantics are the transformers model's: tests compare logits on a tiny random Devstral.
Other architectures (Devstral Small 2's Ministral3, a peft model that is not merged,
8-bit weights) are refused with ``UnsupportedModel``; callers fall back to transformers.
bitsandbytes NF4 weights (every decoder Linear a Linear4bit) are kept packed: decode steps
multiply them with ``nf4_gemv``'s kernel, prefill dequantizes per product.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ibert_jupyter.errors import Unsupported
from ibert_jupyter.model.kernels.decode_attention import TritonAttention, decode_attention, rotate
from ibert_jupyter.model.kernels.decode_gemv import GemvConfig, gemv_add
from ibert_jupyter.model.kernels.nf4_gemv import DEFAULT_CONFIGS as NF4_CONFIGS
from ibert_jupyter.model.kernels.nf4_gemv import Nf4Config, Nf4Weight, fuse_nf4, is_nf4, nf4_linear


class UnsupportedModel(Unsupported):
    """The fused path cannot run this model exactly; use the transformers forward."""


@dataclass
class LayerWeights:
    input_norm: torch.Tensor
    qkv: torch.Tensor | Nf4Weight  # [(Hq + 2 Hkv) * D, hidden]
    o: torch.Tensor | Nf4Weight
    post_norm: torch.Tensor
    gate_up: torch.Tensor | Nf4Weight  # [2 * intermediate, hidden]
    down: torch.Tensor | Nf4Weight


def check_supported(model) -> None:
    from transformers import MistralForCausalLM

    if hasattr(model, "peft_config"):
        raise UnsupportedModel("the LoRA adapter is not merged: merge the adapter (the default for bf16) to decode fast")
    if type(model) is not MistralForCausalLM:
        raise UnsupportedModel(f"fused decode supports MistralForCausalLM, not {type(model).__name__}")
    nf4 = []
    for name, module in model.named_modules():
        if type(module).__name__.startswith("Linear4bit"):
            state = getattr(module.weight, "quant_state", None)
            if not is_nf4(module) or module.bias is not None or module.in_features % state.blocksize:
                raise UnsupportedModel(f"{name}: only bias-free NF4 Linear4bit weights are supported")
            nf4.append(name)
        elif type(module).__name__.startswith(("Lora", "Linear8bit")):
            raise UnsupportedModel(f"{name} is {type(module).__name__}: merge the adapter / use bf16 weights")
    if nf4 and len(nf4) != 7 * model.config.num_hidden_layers:
        raise UnsupportedModel("NF4: every decoder Linear (and nothing else) must be a Linear4bit")
    if getattr(model.config, "hidden_act", "silu") != "silu":
        raise UnsupportedModel(f"hidden_act {model.config.hidden_act!r} (Devstral uses silu)")


def fuse_rows(*linears: torch.nn.Linear) -> torch.Tensor:
    """One [sum(out), in] matrix for several Linears; each Linear's weight becomes a view of it."""
    weights = [lin.weight for lin in linears]
    base = weights[0].data
    fused_already = base._base is not None and all(w.data._base is base._base for w in weights)
    if fused_already:
        return base._base
    fused = torch.cat([w.data for w in weights], dim=0)
    offset = 0
    for lin, w in zip(linears, weights):
        rows = w.shape[0]
        lin.weight = torch.nn.Parameter(fused[offset:offset + rows], requires_grad=False)
        offset += rows
    return fused


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    xf = x.float()
    xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)
    return weight * xf.to(x.dtype)


def _linear(x: torch.Tensor, weight: torch.Tensor | Nf4Weight) -> torch.Tensor:
    """``F.linear`` for plain weights; NF4 ones are dequantized (prefill, CPU)."""
    return nf4_linear(x, weight) if isinstance(weight, Nf4Weight) else F.linear(x, weight)


class KVCache:
    """Static keys/values: per layer [rows, kv_heads, length, head_dim]."""

    def __init__(self, layers: int, rows: int, kv_heads: int, length: int, head_dim: int, dtype, device):
        shape = (rows, kv_heads, length, head_dim)
        self.keys = [torch.zeros(shape, dtype=dtype, device=device) for _ in range(layers)]
        self.values = [torch.zeros(shape, dtype=dtype, device=device) for _ in range(layers)]
        self.rows, self.length = rows, length
        # the Triton decode attention's split counters (left at zero by every launch)
        self.counters = torch.zeros(rows * kv_heads, dtype=torch.int32, device=device)
        self.gemv_counters = torch.zeros(GEMV_COUNTERS, dtype=torch.int32, device=device)  # decode_gemv's

    def row0(self) -> "KVCache":
        """A view of the first row only (the prefill writes through it)."""
        view = object.__new__(KVCache)
        view.keys = [k[:1] for k in self.keys]
        view.values = [v[:1] for v in self.values]
        view.rows, view.length = 1, self.length
        return view

    def broadcast_row0(self, upto: int) -> None:
        """Copy row 0's first ``upto`` positions to every row (one prefill serves N candidates)."""
        if self.rows == 1:
            return
        for cache in (*self.keys, *self.values):
            cache[1:, :, :upto].copy_(cache[:1, :, :upto].expand(self.rows - 1, -1, -1, -1))


DECODE_ATTENTION = ("matmul", "reduce", "triton")
GEMV_COUNTERS = 8192  # row blocks of the largest matrix decode_gemv may split


class FusedMistral:
    """The model's parameters arranged for decoding, and the forward pass over them.

    ``decode_attention`` picks how a one-token step attends: "matmul" (two batched matmuls,
    transformers' eager numerics) or "reduce" (fp32 multiply-and-sum that the compiler turns
    into reduction kernels; fewer library calls per layer on a GPU) or "triton" (one op per
    layer: rope, cache write and attention over the filled cache; one Triton kernel on CUDA,
    ``decode_attention.reference`` elsewhere; ``triton`` sets its launch options). With
    "triton", ``gemv`` may name launch configurations for the batch-1 "qkv" (with the input
    norm), "o" and "down" projections (``decode_gemv``: product and residual add in one kernel).
    """

    def __init__(self, model, *, decode_attention: str = "matmul", triton: TritonAttention | None = None,
                 gemv: dict[str, GemvConfig] | None = None, nf4: dict[str, Nf4Config] | None = None):
        if decode_attention not in DECODE_ATTENTION:
            raise ValueError(f"decode_attention must be one of {DECODE_ATTENTION}, not {decode_attention!r}")
        self.decode_attention = decode_attention
        self.triton = triton or TritonAttention()
        self.gemv = dict(gemv or {})
        check_supported(model)
        config = model.config
        inner = model.model
        self.model = model
        self.heads = config.num_attention_heads
        self.kv_heads = config.num_key_value_heads
        self.head_dim = getattr(config, "head_dim", None) or config.hidden_size // self.heads
        self.groups = self.heads // self.kv_heads
        self.eps = config.rms_norm_eps
        self.sliding_window = getattr(config, "sliding_window", None)
        self.scaling = self.head_dim ** -0.5
        self.vocab_size = config.vocab_size
        self.embed = inner.embed_tokens.weight
        self.final_norm = inner.norm.weight
        self.lm_head = model.lm_head.weight
        self.dtype = self.embed.dtype
        self.device = self.embed.device
        self.layers = []
        self.nf4 = is_nf4(inner.layers[0].self_attn.q_proj)
        # NF4 decode-step launch configurations (CPU: the reference runs whatever is set)
        self.nf4_configs = dict(nf4 if nf4 is not None else NF4_CONFIGS) if self.nf4 else {}
        with torch.no_grad():
            for layer in inner.layers:
                attn, mlp = layer.self_attn, layer.mlp
                if self.nf4:
                    self.layers.append(LayerWeights(
                        input_norm=layer.input_layernorm.weight,
                        qkv=fuse_nf4(attn.q_proj, attn.k_proj, attn.v_proj),
                        o=fuse_nf4(attn.o_proj),
                        post_norm=layer.post_attention_layernorm.weight,
                        gate_up=fuse_nf4(mlp.gate_proj, mlp.up_proj),
                        down=fuse_nf4(mlp.down_proj),
                    ))
                    continue
                self.layers.append(LayerWeights(
                    input_norm=layer.input_layernorm.weight,
                    qkv=fuse_rows(attn.q_proj, attn.k_proj, attn.v_proj),
                    o=attn.o_proj.weight,
                    post_norm=layer.post_attention_layernorm.weight,
                    gate_up=fuse_rows(mlp.gate_proj, mlp.up_proj),
                    down=mlp.down_proj.weight,
                ))
        self._rope_cache: tuple[int, torch.Tensor, torch.Tensor] | None = None

    def new_cache(self, rows: int, length: int) -> KVCache:
        return KVCache(len(self.layers), rows, self.kv_heads, length, self.head_dim, self.dtype, self.device)

    def rope_tables(self, length: int) -> tuple[torch.Tensor, torch.Tensor]:
        """cos/sin for positions [0, length) from the model's own rotary module (its scaling included)."""
        if self._rope_cache is None or self._rope_cache[0] < length:
            positions = torch.arange(length, device=self.device)[None]
            probe = torch.empty(1, dtype=self.dtype, device=self.device)
            cos, sin = self.model.model.rotary_emb(probe, positions)
            self._rope_cache = (length, cos[0], sin[0])
        _, cos, sin = self._rope_cache
        return cos[:length], sin[:length]

    def attention_mask(self, positions: torch.Tensor, length: int) -> torch.Tensor:
        """[T, length] True where query at ``positions[t]`` may attend key j (causal, sliding window)."""
        keys = torch.arange(length, device=positions.device)
        allowed = keys[None, :] <= positions[:, None]
        if self.sliding_window:
            allowed &= keys[None, :] > positions[:, None] - self.sliding_window
        return allowed

    @torch.no_grad()
    def forward(self, tokens: torch.Tensor, positions: torch.Tensor, cache: KVCache,
                cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        """Logits of the last position per row, [rows, vocab]; writes keys/values at ``positions``.

        tokens [rows, T]; positions [T] (the same for every row); cos/sin: full rope tables.
        """
        rows, steps = tokens.shape
        heads, kv_heads, dim, groups = self.heads, self.kv_heads, self.head_dim, self.groups
        x = F.embedding(tokens, self.embed)
        cos_t, sin_t = cos[positions], sin[positions]
        mask = self.attention_mask(positions, cache.length).repeat(groups, 1)  # [G*T, length]
        if self.nf4:  # the decode step's launch configuration per product, for this many rows
            cfg = {k: self.nf4_configs.get(f"{k}/rows" if rows > 1 else k) or self.nf4_configs.get(k)
                   for k in ("qkv", "o", "gate_up", "down")}
        for i, w in enumerate(self.layers):
            h = rms_norm(x, w.input_norm, self.eps)
            if steps == 1 and self.decode_attention == "triton" and self.nf4:
                c = cache.gemv_counters
                attn = self._attend_one(i, nf4_linear(h, w.qkv, counters=c, config=cfg["qkv"]), positions, cache,
                                        cos, sin)
                x = nf4_linear(attn, w.o, x, counters=c, config=cfg["o"])
                gate_up = nf4_linear(rms_norm(x, w.post_norm, self.eps), w.gate_up, counters=c, config=cfg["gate_up"])
                x = nf4_linear(gate_up, w.down, x, gated=True, counters=c, config=cfg["down"])
                continue
            if steps == 1 and self.decode_attention == "triton":
                if "qkv" in self.gemv and rows == 1:  # the input norm inside the product's kernel
                    qkv = gemv_add(w.qkv, x, None, cache.gemv_counters, self.gemv["qkv"], norm_weight=w.input_norm,
                                   eps=self.eps)
                else:
                    qkv = F.linear(h, w.qkv)
                attn = self._attend_one(i, qkv, positions, cache, cos, sin)
                x = gemv_add(w.o, attn, x, cache.gemv_counters, self.gemv.get("o"))
                h = rms_norm(x, w.post_norm, self.eps)
                x = gemv_add(w.down, F.linear(h, w.gate_up), x, cache.gemv_counters, self.gemv.get("down"), gated=True)
                continue
            q, k, v = _linear(h, w.qkv).split((heads * dim, kv_heads * dim, kv_heads * dim), dim=-1)
            q = rotate(q.view(rows, steps, heads, dim).transpose(1, 2), cos_t, sin_t)
            k = rotate(k.view(rows, steps, kv_heads, dim).transpose(1, 2), cos_t, sin_t)
            v = v.view(rows, steps, kv_heads, dim).transpose(1, 2)
            keys, values = cache.keys[i], cache.values[i]
            keys.index_copy_(2, positions, k)
            values.index_copy_(2, positions, v)
            # query head h reads kv head h // groups: [rows, kv, G*T, D]
            q = q.reshape(rows, kv_heads, groups * steps, dim)
            if steps == 1 and self.decode_attention == "reduce":
                scores = (q[:, :, :, None, :].float() * keys[:, :, None, :, :].float()).sum(-1) * self.scaling
                scores = scores.masked_fill(~mask, float("-inf"))
                probs = torch.softmax(scores, dim=-1)
                attn = (probs[..., None] * values[:, :, None, :, :].float()).sum(-2).to(q.dtype)
            else:
                scores = torch.matmul(q, keys.transpose(2, 3)) * self.scaling
                scores = scores.masked_fill(~mask, float("-inf"))
                probs = torch.softmax(scores, dim=-1, dtype=torch.float32).to(q.dtype)
                attn = torch.matmul(probs, values)
            attn = attn.view(rows, heads, steps, dim).transpose(1, 2).reshape(rows, steps, heads * dim)
            x = x + _linear(attn, w.o)
            h = rms_norm(x, w.post_norm, self.eps)
            gate, up = _linear(h, w.gate_up).chunk(2, dim=-1)
            x = x + _linear(F.silu(gate) * up, w.down)
        x = rms_norm(x[:, -1], self.final_norm, self.eps)
        return F.linear(x, self.lm_head)

    def _attend_one(self, i: int, qkv: torch.Tensor, positions: torch.Tensor, cache: KVCache,
                    cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        """Layer ``i``'s attention for one new token per row (qkv [rows, 1, *]) -> [rows, 1, heads * dim]."""
        rows, opt = qkv.shape[0], self.triton
        out = decode_attention(
            qkv.view(rows, -1), positions, cos, sin, cache.keys[i], cache.values[i], cache.counters, self.heads,
            self.scaling, self.sliding_window or 0, opt.splits, opt.min_chunk, opt.block_n, opt.pdl)
        return out.view(rows, 1, -1)
