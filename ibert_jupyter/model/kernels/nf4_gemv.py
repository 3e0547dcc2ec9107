"""bitsandbytes NF4 weights for the fused decoder: ``Nf4Weight`` (packed bytes, a plain absmax
vector, the code table) and ``nf4_linear``, one op ``torch.ops.ibert.nf4_gemv`` for decode.

bnb's Linear4bit keeps a weight [N, K] as N*K/2 bytes (two values a byte, the first in the
high nibble), one absmax per ``blocksize`` consecutive values, optionally itself quantized
(uint8 codes + float absmax2 + offset). At load the nested absmax is turned into fp32 once
(exactly bnb's ``dequantize_blockwise``); the packed bytes are used as they are. Decode
steps (one token per row) run ``triton_nf4`` on CUDA; prefill and CPU use ``reference``:
dequantize (bnb's numerics: code * absmax in fp32, rounded to the compute dtype) + matmul.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as F


@dataclass
class Nf4Weight:
    packed: torch.Tensor  # [N, K / 2] uint8
    absmax: torch.Tensor  # [N, K / blocksize] float32
    code: torch.Tensor  # [16] float32
    blocksize: int
    dtype: torch.dtype  # the compute dtype (bnb's quant_state.dtype)

    @property
    def shape(self) -> tuple[int, int]:
        return self.packed.shape[0], 2 * self.packed.shape[1]

    def dequantize(self) -> torch.Tensor:
        return dequantize(self.packed, self.absmax, self.code, self.dtype)


@dataclass(frozen=True)
class Nf4Config:
    split_k: int = 1
    block_n: int = 16
    block_k: int = 256
    num_warps: int = 4
    pdl: bool = True

    def fits(self, n: int, k: int, blocksize: int) -> bool:
        return (n % self.block_n == 0 and k % (self.split_k * self.block_k) == 0 and self.block_k % blocksize == 0
                and blocksize % 2 == 0)


# Launch configurations per product (Devstral-Small shapes, N x K): qkv 6144 x 5120,
# o 5120 x 4096, gate_up 65536 x 5120, down 5120 x 32768; "<name>/rows" keys serve steps of
# several rows. The fastest of those tried on an H200 (isolated, one row: qkv 24.9 us, o 18.6,
# gate_up 164.5, down 110.7, i.e. 0.6-1.15 TB/s of packed weights; DECODE_NOTES.md).
DEFAULT_CONFIGS = {
    "qkv": Nf4Config(split_k=4, block_n=64, block_k=128),
    "o": Nf4Config(split_k=2, block_n=16, block_k=256),
    "gate_up": Nf4Config(split_k=1, block_n=64, block_k=128),
    "down": Nf4Config(split_k=8, block_n=64, block_k=128),
    "qkv/rows": Nf4Config(split_k=2, block_n=32, block_k=256),
    "o/rows": Nf4Config(split_k=4, block_n=32, block_k=256),
    "gate_up/rows": Nf4Config(split_k=1, block_n=32, block_k=256),
    "down/rows": Nf4Config(split_k=8, block_n=32, block_k=256),
}
MAX_ROWS = 16  # rows one launch multiplies (the tensor-core tile's M)


def absmax_fp32(state) -> torch.Tensor:
    """A bnb QuantState's absmax as a plain fp32 vector (nested statistics dequantized)."""
    absmax = state.absmax
    nested = getattr(state, "state2", None)
    if getattr(state, "nested", False) or nested is not None:
        scale = nested.absmax.float().repeat_interleave(nested.blocksize)[:absmax.numel()]
        absmax = nested.code.float()[absmax.long()] * scale + state.offset
    return absmax.float()


def is_nf4(module) -> bool:
    return type(module).__name__ == "Linear4bit" and getattr(getattr(module.weight, "quant_state", None),
                                                              "quant_type", None) == "nf4"


def from_linear4bit(module) -> Nf4Weight:
    state = module.weight.quant_state
    n, k = state.shape
    return Nf4Weight(module.weight.data.view(n, k // 2), absmax_fp32(state).view(n, k // state.blocksize),
                     state.code.float().to(module.weight.device), state.blocksize, state.dtype)


def fuse_nf4(*modules) -> Nf4Weight:
    """One Nf4Weight for Linear4bits of the same in-features (rows concatenate: a row's blocks
    never straddle rows); each module's packed data becomes a view of the fused bytes."""
    parts = [from_linear4bit(m) for m in modules]
    if len(parts) == 1:
        return parts[0]
    first = parts[0]
    packed = torch.cat([p.packed for p in parts], dim=0)
    offset = 0
    for module, part in zip(modules, parts):
        rows = part.packed.shape[0]
        module.weight.data = packed[offset:offset + rows].reshape(-1, 1)
        offset += rows
    return Nf4Weight(packed, torch.cat([p.absmax for p in parts], dim=0), first.code, first.blocksize, first.dtype)


def dequantize(packed, absmax, code, dtype) -> torch.Tensor:
    n, half = packed.shape
    if packed.is_cuda:  # bnb's kernel (prefill): the gathers below take ~10 ms a layer on an H200
        try:
            from bitsandbytes.functional import QuantState, dequantize_4bit

            state = QuantState(absmax.reshape(-1), shape=torch.Size((n, 2 * half)), code=code,
                               blocksize=2 * half // absmax.shape[1], quant_type="nf4", dtype=dtype)
            return dequantize_4bit(packed.reshape(-1, 1), state)
        except ImportError:
            pass
    b = packed.long()
    values = torch.stack([code[b >> 4], code[b & 15]], dim=-1).view(n, absmax.shape[1], -1)
    return (values * absmax[..., None]).view(n, 2 * half).to(dtype)


def split_columns(x: torch.Tensor) -> torch.Tensor:
    """[..., K] -> [..., 2, K/2]: even columns, then odd (the kernel's one-row input)."""
    return x.unflatten(-1, (-1, 2)).transpose(-1, -2).contiguous()


def reference(packed, absmax, code, x, residual, gated: bool, split_x: bool = False) -> torch.Tensor:
    if split_x:
        x = x.transpose(-1, -2).flatten(-2)
    if gated:
        gate, up = x.chunk(2, dim=-1)
        x = F.silu(gate) * up
    y = F.linear(x, dequantize(packed, absmax, code, x.dtype))
    return y if residual is None else residual + y


@torch.library.custom_op("ibert::nf4_gemv", mutates_args=("counters",))
def nf4_gemv(
    packed: torch.Tensor, absmax: torch.Tensor, code: torch.Tensor, x: torch.Tensor, residual: Optional[torch.Tensor],
    counters: torch.Tensor, blocksize: int, gated: bool, split_k: int, block_n: int, block_k: int, num_warps: int,
    pdl: bool, split_x: bool = False,
) -> torch.Tensor:
    """``residual + a @ W.T`` for up to 16 rows: x [rows, K] (or [rows, 2K] = gate, up when
    ``gated``: a = silu(gate) * up); residual [rows, N] or None; counters int32, at least
    N / block_n, zero (left zero). ``split_x``: one row given as ``split_columns(a)``, [1, 2, K/2]."""
    if packed.device.type != "cuda":
        return reference(packed, absmax, code, x, residual, gated, split_x)
    from ibert_jupyter.model.kernels import triton_nf4

    n, rows = packed.shape[0], x.shape[0]
    out = torch.empty(rows, n, dtype=x.dtype, device=x.device)
    part = torch.empty(split_k, rows, n, dtype=torch.float32, device=x.device)
    return triton_nf4.launch(packed, absmax, code, x, residual, out, part, counters, blocksize=blocksize, gated=gated,
                             split_k=split_k, block_n=block_n, block_k=block_k, num_warps=num_warps, pdl=pdl,
                             split_x=split_x)


@nf4_gemv.register_fake
def _(packed, absmax, code, x, residual, counters, blocksize, gated, split_k, block_n, block_k, num_warps, pdl,
      split_x=False):
    return x.new_empty(x.shape[0], packed.shape[0])


def nf4_linear(x: torch.Tensor, weight: Nf4Weight, residual: torch.Tensor | None = None, *, gated: bool = False,
               counters: torch.Tensor | None = None, config: Nf4Config | None = None) -> torch.Tensor:
    """``residual + a @ W.T`` for x [rows, T, K]: the NF4 kernel for one token per row
    (``config`` set and fitting), else dequantize + matmul."""
    rows, steps = x.shape[0], x.shape[1]
    n, k = weight.shape
    if (config is None or counters is None or steps != 1 or rows > MAX_ROWS or not config.fits(n, k, weight.blocksize)
            or n // config.block_n > counters.numel()):
        return reference(weight.packed, weight.absmax, weight.code, x, residual, gated)
    x = x.reshape(rows, -1)
    if rows == 1:  # gating and column split are traced: the compiler fuses them with the producer
        if gated:
            gate, up = x.chunk(2, dim=-1)
            x, gated = F.silu(gate) * up, False
        x = split_columns(x)
    out = nf4_gemv(weight.packed, weight.absmax, weight.code, x,
                   None if residual is None else residual.reshape(rows, n), counters, weight.blocksize, gated,
                   config.split_k, config.block_n, config.block_k, config.num_warps, config.pdl, rows == 1)
    return out.view(rows, 1, n)
