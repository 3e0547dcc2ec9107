"""A decode step's attention as one op, ``torch.ops.ibert.decode_attention``.

Input is the fused q/k/v projection of one token per row; the op applies rope, writes the
new key/value into the static cache at ``position`` and attends over the filled cache.
On CUDA it is one Triton kernel (``triton_attention``: fewer launches between the weight
streams, only the filled part of the cache read); elsewhere the reference below runs, in
float32, and defines what the kernel must compute. Being a custom op, ``torch.compile``
keeps it as one call inside the captured decode graph.
"""

from __future__ import annotations

from dataclasses import dataclass
import torch


@dataclass(frozen=True)
class TritonAttention:
    """Launch settings of the CUDA kernel.

    splits: programs per kv head over the keys (merged in-kernel); min_chunk: fewest keys a
    split takes (short caches use fewer splits); pdl: Hopper programmatic dependent launch
    (the kernel starts while the qkv projection drains).
    """

    splits: int = 16
    min_chunk: int = 32
    block_n: int = 32
    pdl: bool = True


def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return x * cos + torch.cat((-x[..., half:], x[..., :half]), dim=-1) * sin


def reference(qkv, position, cos, sin, keys, values, heads: int, scale: float, window: int) -> torch.Tensor:
    """What the kernel computes, in float32 (keys/values are written in the cache's dtype)."""
    rows, kv_heads, dim = qkv.shape[0], keys.shape[1], keys.shape[-1]
    groups = heads // kv_heads
    q, k, v = qkv.float().split((heads * dim, kv_heads * dim, kv_heads * dim), dim=-1)
    c, s = cos[position].float(), sin[position].float()  # [1, D]
    q = rotate(q.view(rows, heads, dim), c, s).to(qkv.dtype).float()
    k = rotate(k.view(rows, kv_heads, dim), c, s)
    keys.index_copy_(2, position, k.to(keys.dtype)[:, :, None])
    values.index_copy_(2, position, v.view(rows, kv_heads, 1, dim).to(values.dtype))
    pos = int(position[0])
    lo = max(0, pos - window + 1) if window else 0
    kk, vv = keys[:, :, lo:pos + 1].float(), values[:, :, lo:pos + 1].float()
    scores = torch.einsum("rkgd,rknd->rkgn", q.view(rows, kv_heads, groups, dim), kk) * scale
    out = torch.einsum("rkgn,rknd->rkgd", torch.softmax(scores, dim=-1), vv)
    return out.reshape(rows, heads * dim).to(qkv.dtype)


@torch.library.custom_op("ibert::decode_attention", mutates_args=("keys", "values", "counters"))
def decode_attention(
    qkv: torch.Tensor, position: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
    keys: torch.Tensor, values: torch.Tensor, counters: torch.Tensor, heads: int, scale: float, window: int, splits: int, min_chunk: int, block_n: int, pdl: bool,
) -> torch.Tensor:
    """Attention output [rows, heads * head_dim] for one new token per row.

    qkv [rows, (heads + 2 kv_heads) * head_dim]; position [1] (device); cos/sin [length, head_dim];
    keys/values [rows, kv_heads, length, head_dim]; counters int32 [rows * kv_heads], zero
    (the kernel leaves them zero).
    """
    if qkv.device.type != "cuda":
        return reference(qkv, position, cos, sin, keys, values, heads, scale, window)
    from ibert_jupyter.model.kernels import triton_attention

    rows, dim = qkv.shape[0], keys.shape[-1]
    out = qkv.new_empty(rows, heads * dim)
    part_o = torch.empty(rows, heads, splits, dim, dtype=torch.float32, device=qkv.device)
    part_lse = torch.empty(rows, heads, splits, dtype=torch.float32, device=qkv.device)
    return triton_attention.launch(
        qkv, position, cos, sin, keys, values, counters, out, part_o, part_lse, heads=heads,
        kv_heads=keys.shape[1], scale=scale, window=window, splits=splits, min_chunk=min_chunk, block_n=block_n,
        pdl=pdl)


@decode_attention.register_fake
def _(qkv, position, cos, sin, keys, values, counters, heads, scale, window, splits, min_chunk, block_n, pdl):
    return qkv.new_empty(qkv.shape[0], heads * keys.shape[-1])


def triton_available() -> bool:
    try:
        import triton  # noqa: F401
    except ImportError:
        return False
    return True
