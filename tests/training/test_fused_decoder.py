"""The grouped-LoRA training forward computes what transformers + peft compute.

FAKE WEIGHTS: a tiny randomly initialised Mistral (Devstral's architecture); LoRA B is made
non-zero so the adapters matter. Checked in fp32 on the CPU: loss, and the gradient of every
LoRA parameter, against peft's own forward on the same packed row.
"""

from __future__ import annotations

import pytest
import torch

from ibert_jupyter.training.dataset import TokenizedExample
from ibert_jupyter.training.packing import collate, pack


def _peft_model(seed=0, r=4, targets=("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")):
    from peft import LoraConfig, get_peft_model
    from transformers import MistralConfig, MistralForCausalLM

    torch.manual_seed(seed)
    config = MistralConfig(vocab_size=97, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                           num_attention_heads=4, num_key_value_heads=2, head_dim=8, sliding_window=None)
    model = MistralForCausalLM(config)
    model.requires_grad_(False)
    model.config.use_cache = False
    peft_model = get_peft_model(model, LoraConfig(r=r, lora_alpha=8, target_modules=list(targets), lora_dropout=0.0))
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.2)
    peft_model.train()
    return peft_model


def _batch():
    examples = [TokenizedExample("a", (5, 17, 3, 44, 8, 12, 90), 2), TokenizedExample("b", (9, 2, 61, 7, 33), 1)]
    return collate(pack(examples, 16).rows)


def _loss_and_grads(objective, peft_model, batch):
    for p in peft_model.parameters():
        p.grad = None
    loss = objective(batch["input_ids"], batch["position_ids"], batch["targets"], batch["cu_seqlens"])
    loss.backward()
    grads = {n: p.grad.clone() for n, p in peft_model.named_parameters() if p.requires_grad}
    return float(loss.detach()), grads


@pytest.mark.parametrize("checkpointing", [False, True])
def test_grouped_lora_matches_peft_loss_and_gradients(checkpointing):
    from ibert_jupyter.training import attention
    from ibert_jupyter.training.objective import PackedCausalLMLoss

    peft_model = _peft_model()
    if checkpointing:
        peft_model.get_base_model().gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    attention.use(peft_model, attention.NAME)
    batch = _batch()
    reference = PackedCausalLMLoss(peft_model, fused=False)
    fused = PackedCausalLMLoss(peft_model, fused=True)
    assert (reference.path, fused.path) == ("peft", "grouped-lora+torch")
    ref_loss, ref_grads = _loss_and_grads(reference, peft_model, batch)
    loss, grads = _loss_and_grads(fused, peft_model, batch)
    assert loss == pytest.approx(ref_loss, rel=1e-5)
    assert set(grads) == set(ref_grads) and len(grads) == 2 * 7 * 2
    for name, grad in grads.items():
        torch.testing.assert_close(grad, ref_grads[name], rtol=1e-4, atol=1e-6, msg=name)
        assert grad.abs().sum() > 0, name


def test_grouping_keeps_the_model_s_weights_and_outputs():
    """q/k/v and gate/up weights become views of one tensor: same values, peft's forward unchanged."""
    from ibert_jupyter.training.fused_decoder import FusedLoraDecoder

    peft_model = _peft_model()
    base = peft_model.get_base_model()
    ids = torch.tensor([[3, 1, 4, 1, 5, 9, 2, 6]])
    before = {n: p.detach().clone() for n, p in base.named_parameters()}
    with torch.no_grad():
        out_before = peft_model(input_ids=ids).logits
    FusedLoraDecoder(peft_model)
    attn = base.model.layers[0].self_attn
    q, k = attn.q_proj.base_layer.weight, attn.k_proj.base_layer.weight
    assert q.untyped_storage().data_ptr() == k.untyped_storage().data_ptr()  # one fused tensor
    for n, p in base.named_parameters():
        torch.testing.assert_close(p, before[n], rtol=0, atol=0, msg=n)
    with torch.no_grad():
        torch.testing.assert_close(peft_model(input_ids=ids).logits, out_before)


def test_projections_without_an_adapter_still_match():
    """Only some Linears adapted: groups mix adapted and frozen projections."""
    from ibert_jupyter.training import attention
    from ibert_jupyter.training.objective import PackedCausalLMLoss

    peft_model = _peft_model(targets=("q_proj", "v_proj", "up_proj"))
    attention.use(peft_model, attention.NAME)
    batch = _batch()
    ref_loss, ref_grads = _loss_and_grads(PackedCausalLMLoss(peft_model, fused=False), peft_model, batch)
    loss, grads = _loss_and_grads(PackedCausalLMLoss(peft_model, fused=True), peft_model, batch)
    assert loss == pytest.approx(ref_loss, rel=1e-5)
    for name, grad in grads.items():
        torch.testing.assert_close(grad, ref_grads[name], rtol=1e-4, atol=1e-6, msg=name)


def test_dropout_keeps_peft_s_forward_and_says_why():
    from peft import LoraConfig, get_peft_model
    from transformers import MistralConfig, MistralForCausalLM

    from ibert_jupyter.training.objective import PackedCausalLMLoss

    model = MistralForCausalLM(MistralConfig(vocab_size=97, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                             num_attention_heads=4, num_key_value_heads=2, head_dim=8,
                                             sliding_window=None))
    peft_model = get_peft_model(model, LoraConfig(r=4, target_modules=["q_proj"], lora_dropout=0.1))
    said = []
    objective = PackedCausalLMLoss(peft_model, fused=True, log=said.append)
    assert objective.path == "peft"
    assert said and "dropout" in said[0]


def test_unknown_kernels_name_is_refused():
    from ibert_jupyter.training.fused_decoder import pick_ops

    with pytest.raises(ValueError, match="kernels must be one of"):
        pick_ops("cudnn", torch.device("cpu"))


@pytest.mark.gpu
@pytest.mark.parametrize("quantization", ["bf16", "nf4"])
def test_liger_kernels_on_a_gpu_match_peft(quantization):
    """GPU only: bf16 arithmetic with Liger's kernels (and NF4 dequantised per group) against peft."""
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
    pytest.importorskip("liger_kernel")
    from ibert_jupyter.model.random_shapes import quantize_nf4_
    from ibert_jupyter.training import attention
    from ibert_jupyter.training.objective import PackedCausalLMLoss

    peft_model = _peft_model(r=8)
    base = peft_model.get_base_model()
    base.to("cuda", torch.bfloat16)
    if quantization == "nf4":
        peft_model = peft_model.unload()
        quantize_nf4_(peft_model)
        from peft import LoraConfig, get_peft_model

        peft_model = get_peft_model(peft_model, LoraConfig(r=8, lora_alpha=16, target_modules="all-linear"))
        with torch.no_grad():
            for name, p in peft_model.named_parameters():
                if "lora_B" in name:
                    p.normal_(0, 0.2)
        peft_model.train()
    attention.use(peft_model, attention.NAME)
    batch = {k: v.cuda() if torch.is_tensor(v) else v for k, v in _batch().items()}
    ref_loss, ref_grads = _loss_and_grads(PackedCausalLMLoss(peft_model, fused=False), peft_model, batch)
    fused = PackedCausalLMLoss(peft_model, kernels="liger")
    assert fused.path == "grouped-lora+liger"
    loss, grads = _loss_and_grads(fused, peft_model, batch)
    assert loss == pytest.approx(ref_loss, rel=2e-2)
    for name, grad in grads.items():
        cos = torch.nn.functional.cosine_similarity(grad.flatten().float(), ref_grads[name].flatten().float(), dim=0)
        assert cos > 0.98, (name, float(cos))
