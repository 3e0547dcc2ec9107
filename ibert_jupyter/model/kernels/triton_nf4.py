"""Decode's products with 4-bit NF4 weights as one Triton kernel that reads the packed bytes
(GPU only; ``nf4_gemv`` is the op and holds the reference).

Why: bitsandbytes dequantizes a whole matrix to bf16 per call when several rows are
multiplied, and its batch-1 path does not fuse with anything; here each program streams a
BLOCK_N x (K / SPLIT_K) tile of packed bytes (high nibble = even column, as bnb packs), looks
the 4-bit codes up in the 16-entry NF4 table, scales by the per-64-value absmax and multiplies
with every input row: one row (the FMA path) or up to 16 rows (the tile is rounded to the
input's dtype and multiplied on tensor cores), so N candidates read the weights once. Split-K
partial sums are added by the last program of a row block (atomic counter, fixed order:
deterministic), with the residual; ``GATED`` reads ``silu(gate) * up`` from the fused gate/up
output (the down projection).
"""

from __future__ import annotations

import os

import triton
import triton.language as tl

from ibert_jupyter.model.kernels.triton_split_k import store_split_k

INTERPRET = os.environ.get("TRITON_INTERPRET", "0") == "1"


@triton.jit
def _load(ptr, mask, MASKED: tl.constexpr):
    if MASKED:
        return tl.load(ptr, mask=mask, other=0.0).to(tl.float32)
    return tl.load(ptr).to(tl.float32)


@triton.jit
def _inputs(x_ptr, r_idx, r_mask, cols, K: tl.constexpr, GATED: tl.constexpr, dtype: tl.constexpr,
            MASKED: tl.constexpr):
    """Input rows at ``cols`` (fp32, rounded to the input dtype like the reference)."""
    if GATED:
        g = _load(x_ptr + r_idx * (2 * K) + cols, r_mask, MASKED)
        u = _load(x_ptr + r_idx * (2 * K) + K + cols, r_mask, MASKED)
        return (g / (1.0 + tl.exp(-g)) * u).to(dtype).to(tl.float32)
    return _load(x_ptr + r_idx * K + cols, r_mask, MASKED)


@triton.jit
def nf4_gemv_kernel(q_ptr, absmax_ptr, code_ptr, x_ptr, res_ptr, out_ptr, part_ptr, counter_ptr, N, ROWS,
                    K: tl.constexpr, BLOCKSIZE: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
                    SPLIT_K: tl.constexpr, ROWS_P: tl.constexpr, GATED: tl.constexpr, HAS_RES: tl.constexpr,
                    SPLIT_X: tl.constexpr, PDL: tl.constexpr, FENCE: tl.constexpr):
    pid_n = tl.program_id(0)
    pid_k = tl.program_id(1)
    dtype: tl.constexpr = out_ptr.dtype.element_ty
    K_PER: tl.constexpr = K // SPLIT_K
    NB: tl.constexpr = BLOCK_K // BLOCKSIZE  # absmax blocks per tile
    BH: tl.constexpr = BLOCKSIZE // 2  # packed bytes per absmax block
    KB: tl.constexpr = K // BLOCKSIZE  # absmax blocks per weight row
    n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    b = tl.arange(0, NB)
    j = tl.arange(0, BH)
    # packed byte index within the row, [1, NB, BH]; scale index within the row, [1, NB, 1]
    byte = (b[:, None] * BH + j[None, :])[None, :, :]
    q_rows = q_ptr + n.to(tl.int64)[:, None, None] * (K // 2)
    s_rows = absmax_ptr + n.to(tl.int64)[:, None, None] * KB + b[None, :, None]
    k_start = pid_k * K_PER
    if PDL:
        tl.extra.cuda.gdc_wait()
        tl.extra.cuda.gdc_launch_dependents()
    if ROWS_P == 1:
        acc = tl.zeros([BLOCK_N, NB, BH], tl.float32)
    else:
        r = tl.arange(0, ROWS_P)
        r_mask = r[:, None] < ROWS
        acc2 = tl.zeros([ROWS_P, BLOCK_N], tl.float32)
    for k0 in range(k_start, k_start + K_PER, BLOCK_K):
        packed = tl.load(q_rows + (k0 // 2) + byte, eviction_policy="evict_first").to(tl.int32)
        scale = tl.load(s_rows + k0 // BLOCKSIZE)
        hi = tl.load(code_ptr + (packed >> 4))
        lo = tl.load(code_ptr + (packed & 15))
        if ROWS_P == 1:
            if SPLIT_X:  # x given as [even columns, odd columns]: contiguous (vector) loads
                xe = tl.load(x_ptr + k0 // 2 + byte).to(tl.float32)
                xo = tl.load(x_ptr + K // 2 + k0 // 2 + byte).to(tl.float32)
            else:
                xe = _inputs(x_ptr, 0, None, k0 + 2 * byte, K, GATED, dtype, False)
                xo = _inputs(x_ptr, 0, None, k0 + 2 * byte + 1, K, GATED, dtype, False)
            acc += (hi * xe + lo * xo) * scale
        else:
            we = tl.reshape((hi * scale).to(dtype), [BLOCK_N, BLOCK_K // 2])
            wo = tl.reshape((lo * scale).to(dtype), [BLOCK_N, BLOCK_K // 2])
            cols = k0 + 2 * tl.arange(0, BLOCK_K // 2)[None, :]
            xe = _inputs(x_ptr, r[:, None], r_mask, cols, K, GATED, dtype, True).to(dtype)
            xo = _inputs(x_ptr, r[:, None], r_mask, cols + 1, K, GATED, dtype, True).to(dtype)
            acc2 = tl.dot(xe, tl.trans(we), acc2)
            acc2 = tl.dot(xo, tl.trans(wo), acc2)
    if ROWS_P == 1:
        y = tl.sum(tl.sum(acc, axis=2), axis=1)[None, :]  # [1, BLOCK_N]
        r = tl.arange(0, 1)
    else:
        y = acc2
    offs = r[:, None] * N + n[None, :]  # [ROWS_P, BLOCK_N] into out [ROWS, N]
    o_mask = (r[:, None] < ROWS) & (n[None, :] < N)
    store_split_k(y, offs, o_mask, part_ptr, counter_ptr, res_ptr, out_ptr, pid_n, pid_k, ROWS * N,
                  SPLIT_K, HAS_RES, FENCE, True)


def launch(packed, absmax, code, x, residual, out, part, counters, *, blocksize, gated, split_k, block_n, block_k,
           num_warps, pdl=True, split_x=False):
    """``out = residual + x @ W.T`` for ``rows`` input rows (x [rows, K] or [rows, 2K] gated;
    with ``split_x`` one row as [2, K/2]: even columns, then odd, not gated);
    packed [N, K/2] uint8, absmax [N, K/blocksize] fp32, code [16] fp32; shapes checked by the caller."""
    n, half = packed.shape
    rows = 1 if split_x else x.shape[0]
    use_pdl = pdl and not INTERPRET
    nf4_gemv_kernel[(n // block_n, split_k)](
        packed, absmax, code, x, residual if residual is not None else out, out, part, counters, n, rows,
        K=2 * half, BLOCKSIZE=blocksize, BLOCK_N=block_n, BLOCK_K=block_k, SPLIT_K=split_k,
        ROWS_P=1 if rows == 1 else max(16, triton.next_power_of_2(rows)), GATED=gated,
        HAS_RES=residual is not None, SPLIT_X=split_x, PDL=use_pdl, FENCE=not INTERPRET,
        num_warps=num_warps, num_stages=1, **({"launch_pdl": True} if use_pdl else {}),
    )
    return out
