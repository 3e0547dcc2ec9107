"""NF4 decode products: the pure-torch reference against bitsandbytes' own dequantize and
Linear4bit forward (CPU), the Triton kernel against the reference in Triton's CPU interpreter
(where triton is installed and no GPU is) and on a GPU (marked gpu), and the fused decoder on
a tiny NF4 Devstral against the transformers forward. Random weights."""

from __future__ import annotations

import textwrap

import pytest
import torch

from ibert_jupyter.model.kernels.nf4_gemv import dequantize, from_linear4bit, reference


def nf4_linear4bit(n, k, seed=0, nested=True, dtype=torch.bfloat16, device="cpu"):
    """A bitsandbytes NF4 Linear4bit with random weights, quantized on ``device``."""
    import bitsandbytes as bnb

    g = torch.Generator().manual_seed(seed)
    weight = (torch.randn(n, k, generator=g) * 0.05).to(dtype)
    module = bnb.nn.Linear4bit(k, n, bias=False, compute_dtype=dtype, compress_statistics=nested, quant_type="nf4",
                               device="meta")
    param = bnb.nn.Params4bit(weight, requires_grad=False, compress_statistics=nested, quant_type="nf4")
    module.weight = param.to(device) if device != "cpu" else param._quantize("cpu")
    return module


@pytest.mark.parametrize("nested", [True, False])
def test_reference_equals_bitsandbytes(nested):
    bnb = pytest.importorskip("bitsandbytes")
    module = nf4_linear4bit(96, 320, nested=nested)
    w = from_linear4bit(module)
    expected = bnb.functional.dequantize_4bit(module.weight.data, module.weight.quant_state)
    assert torch.equal(dequantize(w.packed, w.absmax, w.code, torch.bfloat16), expected)
    x = torch.randn(3, 1, 320, dtype=torch.bfloat16)
    with torch.no_grad():
        assert torch.equal(reference(w.packed, w.absmax, w.code, x, None, False), module(x))


INTERPRETER_CHECK = textwrap.dedent("""
    import torch
    from ibert_jupyter.model.kernels import triton_nf4
    from ibert_jupyter.model.kernels.nf4_gemv import reference, split_columns

    code = torch.linspace(-1, 1, 16)
    for rows in (1, 3, 8):
        for split_k in (1, 2):
            for gated in (False, True):
                g = torch.Generator().manual_seed(rows * 10 + split_k)
                n, k = 32, 256
                packed = torch.randint(0, 256, (n, k // 2), generator=g, dtype=torch.uint8)
                absmax = torch.rand(n, k // 64, generator=g) + 0.5
                x = torch.randn(rows, 2 * k if gated else k, generator=g)
                res = None if gated else torch.randn(rows, n, generator=g)
                out = torch.full((rows, n), float("nan"))
                counters = torch.zeros(n // 16, dtype=torch.int32)
                expected = reference(packed, absmax, code, x, res, gated)
                for split_x in ((False, True) if rows == 1 else (False,)):
                    a = x
                    if split_x:  # nf4_linear's one-row input: gated in torch, columns split
                        a = split_columns(torch.nn.functional.silu(x[:, :k]) * x[:, k:] if gated else x)
                    out = torch.full((rows, n), float("nan"))
                    triton_nf4.launch(packed, absmax, code, a, res, out, torch.empty(split_k, rows, n), counters,
                                      blocksize=64, gated=gated and not split_x, split_k=split_k, block_n=16,
                                      block_k=128, num_warps=4, split_x=split_x)
                    assert torch.allclose(out, expected, atol=1e-3, rtol=1e-4), (rows, split_k, gated, split_x,
                                                                                (out - expected).abs().max())
                    assert not counters.any()
    print("ok")
""")


def test_nf4_kernel_in_the_cpu_interpreter(run_in_triton_interpreter):
    """Nibble order, absmax blocks, the row-1 and tensor-core paths, split merge and counters."""
    run_in_triton_interpreter(INTERPRETER_CHECK)


@pytest.mark.gpu
@pytest.mark.parametrize("rows", [1, 8])
@pytest.mark.parametrize("name,n,k,gated", [("qkv", 6144, 5120, False), ("o", 5120, 4096, False),
                                            ("down", 5120, 32768, True), ("gate_up", 65536, 5120, False)])
def test_nf4_kernel_on_gpu(rows, name, n, k, gated):
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    pytest.importorskip("bitsandbytes")
    from ibert_jupyter.model.kernels.nf4_gemv import DEFAULT_CONFIGS, nf4_linear

    w = from_linear4bit(nf4_linear4bit(n, k, seed=n + k, device="cuda"))
    x = torch.randn(rows, 2 * k if gated else k, device="cuda", dtype=torch.bfloat16)
    res = None if name in ("qkv", "gate_up") else torch.randn(rows, n, device="cuda", dtype=torch.bfloat16)
    expected = reference(w.packed, w.absmax, w.code, x.float(), None if res is None else res.float(), gated)
    cfg = DEFAULT_CONFIGS[name]
    counters = torch.zeros(8192, dtype=torch.int32, device="cuda")
    outs = [nf4_linear(x[:, None], w, None if res is None else res[:, None], gated=gated, counters=counters,
                       config=cfg).view(rows, n) for _ in range(3)]
    assert ((outs[0].float() - expected).norm() / expected.norm()).item() < 1e-2
    assert all(torch.equal(outs[0], o) for o in outs[1:]) and not counters.any()


def test_fused_decoder_on_tiny_nf4_devstral_matches_transformers(tiny_devstral):
    """Every decoder Linear swapped for an NF4 Linear4bit: the fused forward (prefill, then
    one token at a time) gives the transformers forward's logits."""
    pytest.importorskip("bitsandbytes")
    from ibert_jupyter.model.config import ModelSettings
    from ibert_jupyter.model.fused_mistral import FusedMistral
    from ibert_jupyter.model.loader import load_local

    model = load_local(ModelSettings(model=str(tiny_devstral["weights"]), device="cpu")).model.eval()
    model = model.to(torch.bfloat16)
    for layer in model.model.layers:
        for parent in (layer.self_attn, layer.mlp):
            for name, child in list(parent.named_children()):
                if isinstance(child, torch.nn.Linear):
                    q = nf4_linear4bit(child.out_features, child.in_features)
                    q.weight = type(q.weight)(child.weight.data, requires_grad=False, compress_statistics=True,
                                              quant_type="nf4")._quantize("cpu")
                    setattr(parent, name, q)
    ids = torch.randint(3, 200, (1, 20), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        expected = model(input_ids=ids).logits[0].float()
    fused = FusedMistral(model, decode_attention="matmul")
    assert fused.nf4
    cache = fused.new_cache(2, 64)
    cos, sin = fused.rope_tables(64)
    logits = fused.forward(ids[:, :12].expand(2, -1), torch.arange(12), cache, cos, sin)
    assert torch.allclose(logits[0].float(), expected[11], atol=3e-2, rtol=3e-2)
    for t in range(12, 20):
        logits = fused.forward(ids[:, t:t + 1].expand(2, -1), torch.tensor([t]), cache, cos, sin)
        assert torch.allclose(logits[0].float(), expected[t], atol=3e-2, rtol=3e-2), t
    with torch.no_grad():  # fused q/k/v and gate/up bytes are views: the transformers model is unchanged
        assert torch.equal(model(input_ids=ids).logits[0].float(), expected)
