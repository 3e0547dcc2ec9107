"""The training objective as one module, so DDP/FSDP wrap exactly what runs forward.

Forward = decoder over the packed row (positions restart per example, attention inside each
example), then the frozen head + cross-entropy on the assistant positions only, chunked.
"""

from __future__ import annotations

import torch

from ibert_jupyter.training.loss import frozen_head_cross_entropy
from ibert_jupyter.training.packing import IGNORE


def decoder_and_head(peft_model):
    """(decoder stack returning hidden states, output Linear) of a peft-wrapped causal LM."""
    causal_lm = peft_model.get_base_model() if hasattr(peft_model, "get_base_model") else peft_model
    return causal_lm.model, causal_lm.lm_head


class PackedCausalLMLoss(torch.nn.Module):
    """``fused``: the grouped-LoRA decoder (``fused_decoder``) when the model takes it, else peft's forward."""

    def __init__(self, peft_model, loss_chunk: int = 2048, fused: bool = True, kernels: str = "auto", log=None):
        super().__init__()
        from ibert_jupyter.training.fused_decoder import FusedLoraDecoder

        self.peft_model = peft_model
        self.loss_chunk = loss_chunk
        self.fused = FusedLoraDecoder.try_build(peft_model, kernels, log) if fused else None

    @property
    def path(self) -> str:
        return f"grouped-lora+{self.fused.ops.name}" if self.fused is not None else "peft"

    def forward(self, input_ids, position_ids, targets, cu_seqlens=None):
        decoder, head = decoder_and_head(self.peft_model)
        if self.fused is not None:
            hidden = self.fused(input_ids, position_ids, cu_seqlens)
        else:
            hidden = decoder(input_ids=input_ids, position_ids=position_ids, use_cache=False,
                             ibert_cu_seqlens=cu_seqlens).last_hidden_state
        keep = targets.view(-1) != IGNORE
        selected = hidden.view(-1, hidden.shape[-1])[keep]
        return frozen_head_cross_entropy(selected, head.weight, targets.view(-1)[keep], self.loss_chunk)
