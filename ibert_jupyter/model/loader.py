"""Load Devstral (and iBERT's LoRA adapter) with transformers, bf16 or 4-bit NF4.

Devstral releases and the transformers class each needs:
- Devstral-Small-2505 / 2507: ``model_type == "mistral"`` -> ``MistralForCausalLM``
  (Mistral architecture, Tekken tokenizer in ``tekken.json`` read by mistral-common).
- Devstral Small 2 (2512): ``model_type == "mistral3"`` -> ``Mistral3ForConditionalGeneration``
  (Ministral3 text decoder behind a vision tower; used here for text only), and a bare
  ``ministral3`` text checkpoint -> ``Ministral3ForCausalLM``.
Any other architecture is refused: iBERT never silently runs a different model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ibert_jupyter.model.config import DEFAULT_MODEL_ID, ModelSettings
from ibert_jupyter.model.errors import ModelUnavailable

# model_type in config.json -> (transformers module, class name)
ARCHITECTURES: dict[str, tuple[str, str]] = {
    "mistral": ("transformers", "MistralForCausalLM"),
    "mistral3": ("transformers", "Mistral3ForConditionalGeneration"),
    "ministral3": ("transformers", "Ministral3ForCausalLM"),
}


def unavailable_instructions(settings: ModelSettings, reason: str) -> str:
    """The exact steps that make the model available, after ``reason``."""
    return (
        f"Devstral is not available: {reason}\n"
        "To enable iBERT's generation features, either\n"
        f"  1. download the weights on a machine with Hugging Face access (about 47 GB in bf16):\n"
        f"       huggingface-cli download {DEFAULT_MODEL_ID} --local-dir /models/devstral-small-2507\n"
        "     and point iBERT at them before starting Jupyter:\n"
        "       export IBERT_MODEL=/models/devstral-small-2507\n"
        "       export IBERT_ADAPTER=/models/ibert-lora        # optional: iBERT's LoRA adapter\n"
        "       export IBERT_QUANTIZATION=nf4                  # optional: 4-bit, ~14 GB of GPU memory\n"
        "     (or c.IbertModel.model = '/models/devstral-small-2507' in jupyter_server_config.py); or\n"
        "  2. serve Devstral with an OpenAI-compatible server and point iBERT at it:\n"
        f"       vllm serve {DEFAULT_MODEL_ID} --tokenizer-mode mistral --enable-lora "
        "--lora-modules ibert=/models/ibert-lora\n"
        "       export IBERT_OPENAI_BASE_URL=http://gpu-host:8000/v1 IBERT_OPENAI_MODEL=ibert\n"
        "Everything that does not need the model (verification, SQL, repair rules, search) keeps working."
    )


def resolve_weights(settings: ModelSettings) -> Path:
    """Local directory holding the configured weights, or ModelUnavailable saying how to get them.

    Hub ids are looked up in the local Hugging Face cache only: loading never downloads.
    """
    candidate = Path(settings.model).expanduser()
    if candidate.is_dir():
        if not (candidate / "config.json").is_file():
            raise ModelUnavailable(
                unavailable_instructions(settings, f"{candidate} has no config.json (not a model directory)")
            )
        return candidate
    if candidate.is_absolute() or settings.model.startswith((".", "~")):
        raise ModelUnavailable(unavailable_instructions(settings, f"directory {candidate} does not exist"))
    try:
        from huggingface_hub import snapshot_download

        path = snapshot_download(settings.model, local_files_only=True)
    except Exception as exc:  # noqa: BLE001 - any miss means "not downloaded"
        raise ModelUnavailable(
            unavailable_instructions(
                settings, f"{settings.model!r} is not in the local Hugging Face cache ({type(exc).__name__})"
            )
        ) from None
    return Path(path)


def read_config(weights: Path) -> dict[str, Any]:
    return json.loads((weights / "config.json").read_text())


def model_class(config: dict[str, Any]):
    """The transformers class for this Devstral release; refuses other architectures."""
    model_type = config.get("model_type")
    if model_type not in ARCHITECTURES:
        raise ModelUnavailable(
            f"unsupported architecture model_type={model_type!r}: iBERT runs Devstral "
            f"({', '.join(sorted(ARCHITECTURES))} checkpoints) and no other model"
        )
    module, name = ARCHITECTURES[model_type]
    import importlib

    return getattr(importlib.import_module(module), name)


@dataclass
class LoadedModel:
    model: Any
    tokenizer: Any  # ibert_jupyter.model.tokenizer.ChatTokenizer
    weights: Path
    device: Any
    adapter: str | None
    quantization: str


def pick_device(requested: str):
    import torch

    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(requested)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ModelUnavailable(f"IBERT_DEVICE={requested} but no CUDA GPU is visible to this process")
    return device


def load_local(settings: ModelSettings) -> LoadedModel:
    """Load weights + tokenizer (+ adapter) for the local backend."""
    weights = resolve_weights(settings)
    config = read_config(weights)
    cls = model_class(config)
    try:
        import torch
    except ImportError as exc:
        raise ModelUnavailable("the local backend needs torch: pip install 'ibert-jupyter[model]'") from exc

    from ibert_jupyter.model.tokenizer import load_chat_tokenizer

    device = pick_device(settings.device)
    kwargs: dict[str, Any] = {"dtype": torch.bfloat16}
    if settings.quantization == "nf4":
        if device.type != "cuda":
            raise ModelUnavailable("IBERT_QUANTIZATION=nf4 needs a CUDA GPU (bitsandbytes 4-bit)")
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_compute_dtype=torch.bfloat16,
            bnb_4bit_use_double_quant=True,
        )
        kwargs["device_map"] = {"": device.index or 0}
    model = cls.from_pretrained(str(weights), **kwargs)
    if settings.quantization != "nf4":
        model.to(device)
    adapter = settings.adapter
    if adapter:
        model = attach_adapter(model, adapter, merge=settings.merge_adapter and settings.quantization == "bf16")
    model.eval()
    tokenizer = load_chat_tokenizer(weights)
    return LoadedModel(model, tokenizer, weights, device, adapter, settings.quantization)


def attach_adapter(model, adapter_dir: str, *, merge: bool):
    path = Path(adapter_dir).expanduser()
    if not (path / "adapter_config.json").is_file():
        raise ModelUnavailable(
            f"IBERT_ADAPTER={adapter_dir} is not a peft adapter directory (no adapter_config.json)"
        )
    from peft import PeftModel

    peft_model = PeftModel.from_pretrained(model, str(path))
    return peft_model.merge_and_unload() if merge else peft_model
