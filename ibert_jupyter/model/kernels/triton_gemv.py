"""A batch-1 matrix-vector product for decode, split over K, as one Triton kernel (GPU only).

``out = residual + W @ a`` with ``a`` a plain vector, ``silu(gate) * up`` read from the
fused gate/up projection's output (the down projection), or ``rms_norm(x) * weight``
computed by every program from the residual stream (the qkv projection: no separate norm
kernel). Why not the compiler's
reduction: Devstral's down projection (5120 x 32768) ran at ~3.7 TB/s that way, against
~4.3 for the wide gate/up matrix. Here each program streams a BLOCK_N x (K / SPLIT_K)
tile; the last program of a row block to finish (atomic counter) adds the splits in a
fixed order, so results are deterministic and no second kernel is needed. Launched with
programmatic dependent launch: the next kernel's programs start while this one drains.
"""

from __future__ import annotations

import os

import triton
import triton.language as tl

from ibert_jupyter.model.kernels.triton_split_k import store_split_k

INTERPRET = os.environ.get("TRITON_INTERPRET", "0") == "1"


@triton.jit
def gemv_kernel(w_ptr, x_ptr, res_ptr, out_ptr, part_ptr, counter_ptr, nw_ptr, eps, N,
                K: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, SPLIT_K: tl.constexpr,
                GATED: tl.constexpr, NORM: tl.constexpr, K_P2: tl.constexpr, HAS_RES: tl.constexpr,
                PDL: tl.constexpr, FENCE: tl.constexpr):
    pid_n = tl.program_id(0)
    pid_k = tl.program_id(1)
    K_PER: tl.constexpr = K // SPLIT_K
    rows = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    w_rows = w_ptr + rows.to(tl.int64)[:, None] * K
    k_start = pid_k * K_PER
    if PDL:
        tl.extra.cuda.gdc_wait()
        tl.extra.cuda.gdc_launch_dependents()
    if NORM:  # 1 / rms of the whole input row (fused_mistral.rms_norm's numerics)
        offs = tl.arange(0, K_P2)
        xs = tl.load(x_ptr + offs, mask=offs < K, other=0.0).to(tl.float32)
        inv_rms = 1.0 / tl.sqrt(tl.sum(xs * xs, axis=0) / K + eps)
    acc = tl.zeros([BLOCK_N, BLOCK_K], tl.float32)
    for k0 in range(0, K_PER, BLOCK_K):
        cols = k_start + k0 + tl.arange(0, BLOCK_K)
        w = tl.load(w_rows + cols[None, :], eviction_policy="evict_first")
        if GATED:
            g = tl.load(x_ptr + cols).to(tl.float32)
            u = tl.load(x_ptr + K + cols).to(tl.float32)
            a = (g / (1.0 + tl.exp(-g)) * u).to(w_ptr.dtype.element_ty).to(tl.float32)
        elif NORM:
            xn = (tl.load(x_ptr + cols).to(tl.float32) * inv_rms).to(w_ptr.dtype.element_ty).to(tl.float32)
            a = (tl.load(nw_ptr + cols).to(tl.float32) * xn).to(w_ptr.dtype.element_ty).to(tl.float32)
        else:
            a = tl.load(x_ptr + cols).to(tl.float32)
        acc += w.to(tl.float32) * a[None, :]
    y = tl.sum(acc, axis=1)
    store_split_k(y, rows, None, part_ptr, counter_ptr, res_ptr, out_ptr, pid_n, pid_k, N,
                  SPLIT_K, HAS_RES, FENCE, False)


def launch(weight, x, residual, out, part, counters, *, gated, split_k, block_n, block_k, num_warps, pdl=True,
           norm_weight=None, eps=1e-5):
    """``out = residual + weight @ a`` for one row; shapes are checked by the caller."""
    n, k = weight.shape
    use_pdl = pdl and not INTERPRET
    gemv_kernel[(n // block_n, split_k)](
        weight, x, residual if residual is not None else out, out, part, counters,
        norm_weight if norm_weight is not None else x, eps, n,
        K=k, BLOCK_N=block_n, BLOCK_K=block_k, SPLIT_K=split_k, GATED=gated, NORM=norm_weight is not None,
        K_P2=triton.next_power_of_2(k), HAS_RES=residual is not None, PDL=use_pdl, FENCE=not INTERPRET,
        num_warps=num_warps, num_stages=1, **({"launch_pdl": True} if use_pdl else {}),
    )
    return out
