"""One Triton kernel for a decode step's attention (GPU only; imported by ``decode_attention``).

Batch-1 decode is a chain of weight streams; between the qkv and o projections the
matmul path ran five small latency-bound kernels per layer (rope + cache write twice,
scores, softmax, probs @ values). This kernel does all of it in one launch:
rope on q and the new k, the new k/v written into the static cache, grouped-query
attention over only the *filled* part of the cache (position read from a device tensor,
so one CUDA graph serves every step), split over the keys for long caches; the last
split of each kv head to finish (an atomic counter) merges the splits' partial softmaxes,
so no second kernel is needed.
"""

from __future__ import annotations

import os

import triton
import triton.language as tl

from ibert_jupyter.model.kernels.triton_split_k import fence

INTERPRET = os.environ.get("TRITON_INTERPRET", "0") == "1"  # CPU interpreter: no inline PTX


@triton.jit
def decode_attention_kernel(
    qkv_ptr, pos_ptr, cos_ptr, sin_ptr, k_ptr, v_ptr, out_ptr, part_o_ptr, part_lse_ptr, counter_ptr,
    cache_len, rope_stride, scale,
    H: tl.constexpr, KVH: tl.constexpr, G: tl.constexpr, G_P2: tl.constexpr, D: tl.constexpr,
    BLOCK_H: tl.constexpr, BLOCK_N: tl.constexpr, SPLITS: tl.constexpr, MIN_CHUNK: tl.constexpr,
    WINDOW: tl.constexpr, PDL: tl.constexpr,
    FENCE: tl.constexpr,  # False in the CPU interpreter (no inline PTX)
):
    pid = tl.program_id(0)  # row * KVH + kv head
    split = tl.program_id(1)
    row = pid // KVH
    kvh = pid % KVH
    if PDL:  # launched while the previous kernel drains; wait for its results here
        tl.extra.cuda.gdc_wait()
        tl.extra.cuda.gdc_launch_dependents()

    pos = tl.load(pos_ptr).to(tl.int32)  # this token's position = keys already in the cache
    if WINDOW > 0:
        lo = tl.maximum(pos - WINDOW + 1, 0)
    else:
        lo = pos * 0
    n_keys = pos - lo
    chunk = tl.cdiv(tl.cdiv(n_keys, SPLITS), BLOCK_N) * BLOCK_N
    chunk = tl.maximum(chunk, MIN_CHUNK)
    n_active = tl.maximum(tl.cdiv(n_keys, chunk), 1)
    if split < n_active:
        HALF: tl.constexpr = D // 2
        QKV: tl.constexpr = (H + 2 * KVH) * D
        offs_d = tl.arange(0, D)
        offs_h = tl.arange(0, BLOCK_H)
        hmask = offs_h < G
        rot_d = (offs_d + HALF) % D
        sign = tl.where(offs_d < HALF, -1.0, 1.0)
        cos = tl.load(cos_ptr + pos * rope_stride + offs_d).to(tl.float32)
        sin = tl.load(sin_ptr + pos * rope_stride + offs_d).to(tl.float32)
        row_ptr = qkv_ptr + row.to(tl.int64) * QKV
        q_ptrs = row_ptr + (kvh * G + offs_h)[:, None] * D
        q = tl.load(q_ptrs + offs_d[None, :], mask=hmask[:, None], other=0.0).to(tl.float32)
        q_rot = tl.load(q_ptrs + rot_d[None, :], mask=hmask[:, None], other=0.0).to(tl.float32)
        q = (q * cos[None, :] + sign[None, :] * q_rot * sin[None, :]).to(k_ptr.dtype.element_ty)  # [BLOCK_H, D]

        m_i = tl.full([BLOCK_H], float("-inf"), tl.float32)
        l_i = tl.zeros([BLOCK_H], tl.float32)
        acc = tl.zeros([BLOCK_H, D], tl.float32)
        cache_base = (row * KVH + kvh).to(tl.int64) * cache_len * D
        if split == 0:  # the new token: rope its key, write key/value, attend to it from registers
            k_new = tl.load(row_ptr + H * D + kvh * D + offs_d).to(tl.float32)
            k_rot = tl.load(row_ptr + H * D + kvh * D + rot_d).to(tl.float32)
            k_new = (k_new * cos + sign * k_rot * sin).to(k_ptr.dtype.element_ty)
            v_new = tl.load(row_ptr + (H + KVH) * D + kvh * D + offs_d)
            tl.store(k_ptr + cache_base + pos * D + offs_d, k_new)
            tl.store(v_ptr + cache_base + pos * D + offs_d, v_new)
            m_i = tl.sum(q.to(tl.float32) * k_new.to(tl.float32)[None, :], axis=1) * scale
            l_i = tl.full([BLOCK_H], 1.0, tl.float32)
            acc = tl.zeros([BLOCK_H, D], tl.float32) + v_new.to(tl.float32)[None, :]

        start = lo + split * chunk
        end = tl.minimum(start + chunk, pos)
        for n0 in range(start, end, BLOCK_N):
            offs_n = n0 + tl.arange(0, BLOCK_N)
            nmask = offs_n < end
            kv_off = cache_base + offs_n[:, None].to(tl.int64) * D + offs_d[None, :]
            kb = tl.load(k_ptr + kv_off, mask=nmask[:, None], other=0.0)
            vb = tl.load(v_ptr + kv_off, mask=nmask[:, None], other=0.0)
            if FENCE:
                s = tl.dot(q, tl.trans(kb)) * scale  # [BLOCK_H, BLOCK_N]
            else:  # the CPU interpreter's bf16 dot is wrong; float32 is exact there
                s = tl.dot(q.to(tl.float32), tl.trans(kb.to(tl.float32))) * scale
            s = tl.where(nmask[None, :], s, float("-inf"))
            m_new = tl.maximum(m_i, tl.max(s, axis=1))
            alpha = tl.exp(m_i - m_new)
            p = tl.exp(s - m_new[:, None])
            l_i = l_i * alpha + tl.sum(p, axis=1)
            if FENCE:
                pv = tl.dot(p.to(v_ptr.dtype.element_ty), vb)
            else:
                pv = tl.dot(p, vb.to(tl.float32))
            acc = acc * alpha[:, None] + pv
            m_i = m_new

        heads = kvh * G + offs_h
        out_row = out_ptr + row.to(tl.int64) * H * D
        if n_active == 1:
            out = acc / l_i[:, None]
            tl.store(out_row + heads[:, None] * D + offs_d[None, :], out.to(out_ptr.dtype.element_ty), mask=hmask[:, None])
        else:
            part = (row * H + heads) * SPLITS + split
            tl.store(part_o_ptr + part[:, None].to(tl.int64) * D + offs_d[None, :], acc / l_i[:, None],
                     mask=hmask[:, None])
            tl.store(part_lse_ptr + part, m_i + tl.log(l_i), mask=hmask)
            if FENCE:
                fence()
            tl.debug_barrier()
            arrived = tl.atomic_add(counter_ptr + pid, 1, sem="acq_rel", scope="gpu")
            if arrived == n_active - 1:  # last split of this kv head: merge all of them
                tl.atomic_xchg(counter_ptr + pid, 0, sem="relaxed", scope="gpu")  # ready for the next call
                if FENCE:
                    fence()
                offs_g = tl.arange(0, G_P2)
                gmask = offs_g < G
                offs_s = tl.arange(0, SPLITS)
                smask = offs_s < n_active
                ghead = (row * H + kvh * G + offs_g) * SPLITS
                lse = tl.load(part_lse_ptr + ghead[:, None] + offs_s[None, :],
                              mask=gmask[:, None] & smask[None, :], other=0.0, cache_modifier=".cg")
                lse = tl.where(smask[None, :], lse, float("-inf"))  # [G_P2, SPLITS]
                weight = tl.exp(lse - tl.max(lse, axis=1)[:, None])
                o_ptrs = part_o_ptr + (ghead[:, None, None] + offs_s[None, :, None]).to(tl.int64) * D \
                    + offs_d[None, None, :]
                parts = tl.load(o_ptrs, mask=gmask[:, None, None] & smask[None, :, None], other=0.0,
                                cache_modifier=".cg")  # [G_P2, SPLITS, D]
                out = tl.sum(parts * weight[:, :, None], axis=1) / tl.sum(weight, axis=1)[:, None]
                gheads = kvh * G + offs_g
                tl.store(out_row + gheads[:, None] * D + offs_d[None, :], out.to(out_ptr.dtype.element_ty), mask=gmask[:, None])


def launch(qkv, position, cos, sin, keys, values, counters, out, part_o, part_lse, *, heads, kv_heads, scale,
           window, splits, min_chunk, block_n, pdl=True):
    """Launch ``decode_attention_kernel`` over (rows * kv_heads, splits) programs."""
    rows = qkv.shape[0]
    dim = keys.shape[-1]
    groups = heads // kv_heads

    decode_attention_kernel[(rows * kv_heads, splits)](
        qkv, position, cos, sin, keys, values, out, part_o, part_lse, counters, keys.shape[2], cos.stride(0), scale,
        H=heads, KVH=kv_heads, G=groups, G_P2=triton.next_power_of_2(groups), D=dim,
        BLOCK_H=max(16, triton.next_power_of_2(groups)), BLOCK_N=block_n, SPLITS=splits, MIN_CHUNK=min_chunk,
        WINDOW=window, PDL=pdl and not INTERPRET, FENCE=not INTERPRET,
        num_warps=4, num_stages=2, **({"launch_pdl": True} if pdl and not INTERPRET else {}),
    )
    return out
