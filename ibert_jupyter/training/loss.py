"""Cross-entropy through a frozen output layer without holding the logits.

Devstral's vocabulary is 131,072: 2,048 positions of fp32 logits are 1 GiB, and the usual
path keeps several copies (logits, their upcast, the softmax gradient). Here the head is
applied to ``chunk`` positions at a time; the loss and the gradient w.r.t. the hidden states
are computed together in the forward pass (the head is frozen under LoRA, so no weight
gradient is needed) and only [positions, hidden] is kept for backward.
Only positions that have a target (assistant tokens) are passed in at all.
"""

from __future__ import annotations

import torch


class _FrozenHeadCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, hidden, weight, targets, chunk):
        n = hidden.shape[0]
        grad = torch.empty_like(hidden)
        total = torch.zeros((), dtype=torch.float32, device=hidden.device)
        for start in range(0, n, chunk):
            h = hidden[start:start + chunk]
            t = targets[start:start + chunk]
            logits = (h @ weight.t()).float()
            lse = torch.logsumexp(logits, dim=-1)
            total += (lse - logits.gather(1, t[:, None])[:, 0]).sum()
            probs = logits.sub_(lse[:, None]).exp_()
            probs[torch.arange(t.shape[0], device=t.device), t] -= 1.0
            grad[start:start + chunk] = (probs / n).to(weight.dtype) @ weight
            del logits, probs
        ctx.save_for_backward(grad)
        return total / n

    @staticmethod
    def backward(ctx, grad_output):
        (grad,) = ctx.saved_tensors
        return grad * grad_output.to(grad.dtype), None, None, None


def frozen_head_cross_entropy(hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor,
                              chunk: int = 2048) -> torch.Tensor:
    """Mean cross-entropy of ``hidden @ weight.T`` against ``targets`` ([N, H], [V, H], [N])."""
    if weight.requires_grad:
        raise ValueError("frozen_head_cross_entropy needs a frozen output layer (LoRA leaves lm_head frozen)")
    if hidden.shape[0] == 0:
        raise ValueError("no target tokens in this batch (every example lost its assistant text?)")
    return _FrozenHeadCrossEntropy.apply(hidden, weight, targets, chunk)
