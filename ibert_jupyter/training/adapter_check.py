"""After training: load the saved adapter the way the runtime does and show that it takes effect.

Two paths, both the runtime's own code: transformers + peft (``model.loader.attach_adapter``,
what ``IBERT_ADAPTER`` does) and the fused decoder (``model.fast_decode.FusedDecoder`` over the
merged bf16 weights, the default for bf16). For a real checkpoint the base comes from
``load_local``; for a RANDOM base it is rebuilt from the same seed on the same device.
"""

from __future__ import annotations

from typing import Any


def check_adapter_paths(adapter_dir: str, base_model: str, device: str = "auto", prompt: str = "count the orders",
                        new_tokens: int = 8) -> dict[str, Any]:
    import torch

    from ibert_jupyter.model.fast_decode import FusedDecoder
    from ibert_jupyter.model.loader import attach_adapter
    from ibert_jupyter.training.config import TrainConfig
    from ibert_jupyter.training.model_setup import RANDOM_PREFIX, load_base

    config = TrainConfig(base_model=base_model, quantization="bf16", device=device)
    base = load_base(config)  # bf16 weights: the fused decoder and a mergeable adapter need them
    model = base.model.eval()
    ids = base.chat_tokenizer.encode_chat([{"role": "user", "content": prompt}])
    tensor = torch.tensor([ids], device=base.device)
    with torch.no_grad():
        plain = model(tensor).logits[0, -1].float()
    peft_model = attach_adapter(model, adapter_dir, merge=False).eval()
    with torch.no_grad():
        tuned = peft_model(tensor).logits[0, -1].float()
        hf_tokens = peft_model.generate(input_ids=tensor, max_new_tokens=new_tokens, do_sample=False,
                                        min_new_tokens=new_tokens)[0, len(ids):].tolist()
    merged = peft_model.merge_and_unload().eval()
    fused_tokens = None
    fused_error = None if base.device.type == "cuda" else "skipped: the fused decoder runs on CUDA only"
    if base.device.type == "cuda":
        try:
            result = FusedDecoder(merged, compile=False).decode(ids, n=1, max_new_tokens=new_tokens, temperature=0.0)
            fused_tokens = result.tokens[0]
        except Exception as exc:  # noqa: BLE001 - reported, the check records why
            fused_error = f"{type(exc).__name__}: {exc}"
    same = sum(a == b for a, b in zip(hf_tokens, fused_tokens or []))
    out = {
        "base_model": base_model, "random_base": base_model.startswith(RANDOM_PREFIX), "adapter": adapter_dir,
        "transformers_path": {"loaded": True, "logit_change_max_abs": float((tuned - plain).abs().max()),
                              "greedy_tokens": hf_tokens},
        "fused_decoder": {"loaded": fused_tokens is not None, "greedy_tokens": fused_tokens, "error": fused_error,
                          "tokens_matching_transformers": f"{same}/{len(hf_tokens)}" if fused_tokens else None},
    }
    del model, peft_model, merged, base
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return out
