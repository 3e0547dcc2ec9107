"""The split-K epilogue the decode GEMV kernels share (Triton, GPU; also runs in the interpreter).

A product split over K leaves each program with a partial sum. Rather than launch a second
kernel to add them, every split parks its partial in a scratch buffer and bumps its row
block's counter; the split that arrives last adds all partials in split order (so the result
is deterministic), resets the counter for the next call, rounds to the output dtype, adds the
residual and stores. ``fence`` orders the partial's store before the counter bump on the GPU
(the interpreter runs programs one by one and needs none).
"""

from __future__ import annotations

import triton
import triton.language as tl


@triton.jit
def fence():
    tl.inline_asm_elementwise("fence.acq_rel.gpu; // $0", "=r", [], dtype=tl.int32, is_pure=False, pack=1)


@triton.jit
def _load(ptr, mask, MASKED: tl.constexpr, CACHE: tl.constexpr):
    if MASKED:
        return tl.load(ptr, mask=mask, other=0.0, cache_modifier=CACHE).to(tl.float32)
    return tl.load(ptr, cache_modifier=CACHE).to(tl.float32)


@triton.jit
def _finish(y, offs, mask, res_ptr, out_ptr, HAS_RES: tl.constexpr, MASKED: tl.constexpr):
    """out = round(y) (+ residual), rounded once more to the output dtype, as the reference does."""
    dtype: tl.constexpr = out_ptr.dtype.element_ty
    y = y.to(dtype).to(tl.float32)
    if HAS_RES:
        y += _load(res_ptr + offs, mask, MASKED, "")
    if MASKED:
        tl.store(out_ptr + offs, y.to(dtype), mask=mask)
    else:
        tl.store(out_ptr + offs, y.to(dtype))


@triton.jit
def store_split_k(y, offs, mask, part_ptr, counter_ptr, res_ptr, out_ptr, block, split, SLICE,
                  SPLIT_K: tl.constexpr, HAS_RES: tl.constexpr, FENCE: tl.constexpr, MASKED: tl.constexpr):
    """Store ``out[offs] = sum over splits of y (+ residual)``; ``y`` is this program's partial (fp32).

    ``block``/``split`` are the program's row block and K split, ``SLICE`` the elements one
    split's partials take in ``part_ptr``; ``MASKED`` applies ``mask`` to every access.
    """
    if SPLIT_K > 1:
        if MASKED:
            tl.store(part_ptr + split * SLICE + offs, y, mask=mask)
        else:
            tl.store(part_ptr + split * SLICE + offs, y)
        if FENCE:
            fence()
        tl.debug_barrier()
        arrived = tl.atomic_add(counter_ptr + block, 1, sem="acq_rel", scope="gpu")
        if arrived == SPLIT_K - 1:  # last split of this row block: add all splits in order
            tl.atomic_xchg(counter_ptr + block, 0, sem="relaxed", scope="gpu")
            if FENCE:
                fence()
            total = _load(part_ptr + offs, mask, MASKED, ".cg")
            for s in tl.static_range(1, SPLIT_K):
                total += _load(part_ptr + s * SLICE + offs, mask, MASKED, ".cg")
            _finish(total, offs, mask, res_ptr, out_ptr, HAS_RES, MASKED)
    else:
        _finish(y, offs, mask, res_ptr, out_ptr, HAS_RES, MASKED)
