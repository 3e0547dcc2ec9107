"""iBERT's adapter trainer: packed LoRA/QLoRA fine-tuning of Devstral, tracked in W&B.

``train(TrainConfig(...))`` is the whole run; the notebook ``training_notebooks/train_adapter.ipynb``,
``ibert train`` and ``torchrun -m ibert_jupyter.training.launch`` all call it. Heavy imports
(torch, transformers, peft) happen inside the functions, so importing this package is cheap.
"""

from __future__ import annotations

from ibert_jupyter.training.config import TrainConfig, TrainResult

__all__ = ["TrainConfig", "TrainResult", "train"]


def train(config: TrainConfig) -> TrainResult:
    """Run one training job (see ``trainer.run``)."""
    from ibert_jupyter.training.trainer import run

    return run(config)
