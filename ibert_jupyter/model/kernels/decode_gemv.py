"""Batch-1 decode's matrix-vector products with a fused residual add, as one op,
``torch.ops.ibert.decode_gemv``: ``residual + W @ a``, ``a`` a vector, ``silu(gate) * up``
or ``rms_norm(x) * norm_weight``.

On CUDA it is one Triton kernel (``triton_gemv``, split over K, merged in-kernel); elsewhere
the reference below runs. ``GemvConfig`` holds a launch configuration; which one is fastest
for each of Devstral's matrices was measured on an H200 (benchmarks/decode_step_probe.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class GemvConfig:
    split_k: int = 8
    block_n: int = 16
    block_k: int = 512
    num_warps: int = 4
    pdl: bool = True

    def fits(self, n: int, k: int) -> bool:
        pow2 = self.split_k & (self.split_k - 1) == 0
        return pow2 and n % self.block_n == 0 and k % (self.split_k * self.block_k) == 0


# The fastest configurations measured on an H200 for Devstral-Small-2507's batch-1 step
# (benchmarks/decode_step_probe.py, DECODE_NOTES.md): qkv 17.2 us vs 21.8 for the compiled
# norm + product, down 83.9 vs 86.6. "o" stays with the compiler's kernel (11.5 vs 13.1 us).
DEFAULT_CONFIGS = {
    "qkv": GemvConfig(split_k=1, block_n=16, block_k=512, num_warps=8),
    "down": GemvConfig(split_k=16, block_n=16, block_k=256, num_warps=4),
}


def reference(weight, x, residual, gated: bool, norm_weight=None, eps: float = 1e-5) -> torch.Tensor:
    if gated:
        gate, up = x.chunk(2, dim=-1)
        x = F.silu(gate) * up
    if norm_weight is not None:
        xf = x.float()
        x = norm_weight * (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)).to(x.dtype)
    y = F.linear(x, weight)
    return y if residual is None else residual + y


@torch.library.custom_op("ibert::decode_gemv", mutates_args=("counters",))
def decode_gemv(
    weight: torch.Tensor, x: torch.Tensor, residual: Optional[torch.Tensor], counters: torch.Tensor,
    gated: bool, split_k: int, block_n: int, block_k: int, num_warps: int, pdl: bool,
    norm_weight: Optional[torch.Tensor] = None, eps: float = 1e-5,
) -> torch.Tensor:
    """``residual + weight @ a`` for one row: weight [N, K]; x [K] (or [2K] = gate, up when
    ``gated``); residual [N] or None; counters int32, at least N / block_n, zero (left zero);
    with ``norm_weight``, ``a`` is ``x`` RMS-normalised and scaled by it."""
    if weight.device.type != "cuda":
        return reference(weight, x, residual, gated, norm_weight, eps)
    from ibert_jupyter.model.kernels import triton_gemv

    n = weight.shape[0]
    out = torch.empty(n, dtype=weight.dtype, device=weight.device)
    part = torch.empty(split_k, n, dtype=torch.float32, device=weight.device)
    return triton_gemv.launch(weight, x, residual, out, part, counters, gated=gated, split_k=split_k, block_n=block_n,
                              block_k=block_k, num_warps=num_warps, pdl=pdl, norm_weight=norm_weight, eps=eps)


@decode_gemv.register_fake
def _(weight, x, residual, counters, gated, split_k, block_n, block_k, num_warps, pdl, norm_weight=None, eps=1e-5):
    return weight.new_empty(weight.shape[0])


def gemv_add(weight, x, residual, counters, config: GemvConfig | None, *, gated: bool = False,
             norm_weight=None, eps: float = 1e-5) -> torch.Tensor:
    """``residual + weight @ a`` ([1, 1, N]; residual may be None) through ``decode_gemv``
    when ``config`` fits one row, else plain ops."""
    n, k = weight.shape
    if (config is None or x.shape[0] != 1 or x.shape[1] != 1 or not config.fits(n, k)
            or n // config.block_n > counters.numel()):
        return reference(weight, x, residual, gated, norm_weight, eps)
    out = decode_gemv(weight, x.reshape(-1), None if residual is None else residual.reshape(-1), counters, gated,
                      config.split_k, config.block_n, config.block_k, config.num_warps, config.pdl, norm_weight, eps)
    return out.view(1, 1, n)
