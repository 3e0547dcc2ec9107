"""LoRA on projections that share one input, as one GEMM forward and one backward.

peft runs every adapted Linear on its own: the frozen GEMM, then (in fp32) dropout, ``x @ A``,
``@ B``, a scale and an add, each a separate pass over the output. q/k/v read the same input, as
do gate/up, so a :class:`LoraGroup` concatenates their frozen weights (one [sum(out), in] GEMM)
and their adapters (``A`` stacked, ``B`` block-diagonal); the adapter term is added in the GEMM's
epilogue (``addmm``'s C). Backward is written by hand: ``dx`` in one ``addmm`` too, and the
adapter gradients from the small ``x @ A`` kept from forward. Nothing else is saved, so it
composes with gradient checkpointing.

Frozen weights: a bf16 group is re-pointed to views of one concatenated tensor (same memory);
an NF4 group (bitsandbytes ``Linear4bit``) is dequantised into one transient bf16 buffer per
use, as bitsandbytes itself does per Linear.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ibert_jupyter.errors import Unsupported


class NotFusable(Unsupported):
    """This module cannot take the grouped path (the caller keeps peft's own forward)."""


@dataclass(frozen=True)
class Member:
    """One adapted projection of a group: rows ``rows`` of the group's output."""

    module: Any  # peft LoRA Linear (or a plain frozen Linear with no adapter)
    rows: tuple[int, int]
    adapter: str | None  # active adapter name, None when the projection has no LoRA


def _adapter_name(module) -> str | None:
    names = getattr(module, "active_adapters", None)
    if names is None:
        return None
    if len(names) != 1 or getattr(module, "merged", False) or getattr(module, "disable_adapters", False):
        raise NotFusable("exactly one active, unmerged adapter is needed")
    name = names[0]
    if name not in module.lora_A:
        return None
    if not isinstance(module.lora_dropout[name], torch.nn.Identity):
        raise NotFusable("lora_dropout > 0 (the grouped path has no dropout)")
    if getattr(module, "use_dora", {}).get(name, False):
        raise NotFusable("DoRA adapters")
    return name


def _base(module):
    return getattr(module, "base_layer", module)


def _is_nf4(linear) -> bool:
    return type(linear.weight).__name__ == "Params4bit"


class LoraGroup:
    """Projections that read the same input: frozen weights fused, adapters stacked."""

    def __init__(self, modules: list):
        bases = [_base(m) for m in modules]
        if any(getattr(b, "bias", None) is not None for b in bases):
            raise NotFusable("a projection has a bias")
        kinds = {_is_nf4(b) for b in bases}
        if len(kinds) != 1:
            raise NotFusable("mixed NF4 and dense projections in one group")
        self.nf4 = kinds.pop()
        if not self.nf4 and not all(isinstance(b, torch.nn.Linear) for b in bases):
            raise NotFusable(f"unsupported base layer {type(bases[0]).__name__}")
        members, start = [], 0
        for module, base in zip(modules, bases):
            out = base.out_features
            members.append(Member(module, (start, start + out), _adapter_name(module)))
            start += out
        self.members = tuple(members)
        self.out_features = start
        self.in_features = bases[0].in_features
        self._dense = None if self.nf4 else self._fuse_dense(bases)

    @staticmethod
    def _fuse_dense(bases) -> torch.Tensor:
        """One [sum(out), in] tensor; each Linear's weight becomes a view of it (no extra memory kept)."""
        if len(bases) == 1:
            return bases[0].weight
        first = bases[0].weight
        total = sum(b.weight.shape[0] for b in bases)
        fused = torch.empty((total, first.shape[1]), dtype=first.dtype, device=first.device)
        start = 0
        for base in bases:
            rows = base.weight.shape[0]
            fused[start:start + rows].copy_(base.weight.data)
            base.weight = torch.nn.Parameter(fused[start:start + rows], requires_grad=False)
            start += rows
        return fused

    def dense_weight(self, dtype: torch.dtype) -> torch.Tensor:
        """The group's frozen weight as one dense [sum(out), in] tensor (NF4: dequantised now)."""
        if not self.nf4:
            return self._dense if self._dense.dtype == dtype else self._dense.to(dtype)
        import bitsandbytes.functional as bnbf

        first = _base(self.members[0].module).weight
        out = torch.empty((self.out_features, self.in_features), dtype=dtype, device=first.device)
        for member in self.members:
            weight = _base(member.module).weight
            a, b = member.rows
            if weight.quant_state.dtype == dtype:
                bnbf.dequantize_4bit(weight.data, weight.quant_state, out=out[a:b])
            else:
                out[a:b].copy_(bnbf.dequantize_4bit(weight.data, weight.quant_state))
        return out

    def adapter_params(self) -> list[torch.Tensor]:
        """[A_1, B_1, A_2, B_2, ...] of the members that have an adapter (autograd inputs)."""
        params = []
        for m in self.members:
            if m.adapter is not None:
                params += [m.module.lora_A[m.adapter].weight, m.module.lora_B[m.adapter].weight]
        return params

    def scalings(self) -> tuple[float, ...]:
        return tuple(float(m.module.scaling[m.adapter]) for m in self.members if m.adapter is not None)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        params = self.adapter_params()
        return _GroupedLoraLinear.apply(x, self, self.scalings(), *params)


def _stack_adapters(group: LoraGroup, params, scalings, dtype) -> tuple[torch.Tensor, torch.Tensor, list]:
    """(A stacked [R, in], scaled block-diagonal B [out, R], per-adapter (rows, ranks) slices)."""
    adapted = [m for m in group.members if m.adapter is not None]
    ranks = [params[2 * i].shape[0] for i in range(len(adapted))]
    total = sum(ranks)
    a_stack = torch.cat([params[2 * i].to(dtype) for i in range(len(adapted))]) if adapted else None
    b_block = params[0].new_zeros((group.out_features, total), dtype=dtype) if adapted else None
    blocks, r0 = [], 0
    for i, (member, rank, scale) in enumerate(zip(adapted, ranks, scalings)):
        a, b = member.rows
        b_block[a:b, r0:r0 + rank] = params[2 * i + 1].to(dtype) * scale
        blocks.append(((a, b), (r0, r0 + rank), scale))
        r0 += rank
    return a_stack, b_block, blocks


class _GroupedLoraLinear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, group: LoraGroup, scalings, *params):
        flat = x.reshape(-1, x.shape[-1])
        weight = group.dense_weight(x.dtype)
        a_stack, b_block, blocks = _stack_adapters(group, params, scalings, x.dtype)
        if a_stack is None:
            out = flat @ weight.t()
            xa = None
        else:
            xa = flat @ a_stack.t()  # [T, R]: small, kept for the adapter gradients
            out = torch.addmm(xa @ b_block.t(), flat, weight.t())  # adapter term as the GEMM's C
        ctx.group, ctx.blocks, ctx.shape = group, blocks, x.shape
        ctx.param_dtypes = [p.dtype for p in params]
        ctx.save_for_backward(flat, xa, a_stack, b_block)
        return out.view(*x.shape[:-1], group.out_features)

    @staticmethod
    def backward(ctx, grad_out):
        flat, xa, a_stack, b_block = ctx.saved_tensors
        dy = grad_out.reshape(-1, grad_out.shape[-1]).to(flat.dtype)
        weight = ctx.group.dense_weight(flat.dtype)
        grads: list[torch.Tensor | None] = []
        if a_stack is None:
            dx = dy @ weight
        else:
            g = dy @ b_block  # [T, R] = dy through the scaled B
            dx = torch.addmm(g @ a_stack, dy, weight)
            d_a = g.t() @ flat  # [R, in]
            for (rows, ranks, scale), a_dtype, b_dtype in zip(ctx.blocks, ctx.param_dtypes[0::2],
                                                               ctx.param_dtypes[1::2]):
                d_b = (dy[:, rows[0]:rows[1]].t() @ xa[:, ranks[0]:ranks[1]]) * scale
                grads += [d_a[ranks[0]:ranks[1]].to(a_dtype), d_b.to(b_dtype)]
        return (dx.view(ctx.shape), None, None, *grads)

