"""Build the model a run trains: Devstral (or a RANDOM model of its shape) + a LoRA adapter.

Real weights go through the runtime's own resolver (``model.loader``), so a missing checkpoint
raises the same ``ModelUnavailable`` with download steps. ``random:<shape>`` (shapes from
``evaluation.bench_decode.CONFIGS``) builds random weights directly on the device: for
benchmarks and tests only, and every record of such a run says "random".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ibert_jupyter.model.errors import ModelUnavailable
from ibert_jupyter.training.config import TrainConfig

RANDOM_PREFIX = "random:"
BUNDLED_TEKKEN = "tekken_240911.json"  # mistral-common's 131k Tekken vocabulary (not Devstral's own file)


@dataclass
class BaseModel:
    model: Any  # transformers model (NF4 or bf16), frozen
    chat_tokenizer: Any
    tokenizer_source: str
    weights: Path | None  # None for a random model
    random: bool
    device: Any


def pick_device(requested: str):
    import torch

    if requested == "auto":
        if torch.cuda.is_available():
            import os

            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        return torch.device("cpu")
    device = torch.device(requested)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ModelUnavailable(f"device={requested} but no CUDA GPU is visible to this process")
    return device


def bundled_tekken() -> Path:
    import mistral_common

    path = Path(mistral_common.__file__).parent / "data" / BUNDLED_TEKKEN
    if not path.is_file():
        raise ModelUnavailable(f"mistral-common has no bundled {BUNDLED_TEKKEN}: pass tokenizer=<tekken.json>")
    return path


def load_tokenizer(config: TrainConfig, weights: Path | None):
    """(chat tokenizer, where it came from): explicit file, the checkpoint's own, else the bundled Tekken."""
    from ibert_jupyter.model.tokenizer import MistralCommonTokenizer, load_chat_tokenizer

    if config.tokenizer:
        path = Path(config.tokenizer).expanduser()
        if not path.is_file():
            raise ModelUnavailable(f"tokenizer file {path} does not exist")
        return MistralCommonTokenizer(path), str(path)
    if weights is not None:
        return load_chat_tokenizer(weights), f"{weights} (the checkpoint's own)"
    path = bundled_tekken()
    return MistralCommonTokenizer(path), f"mistral-common bundled {BUNDLED_TEKKEN} (not Devstral's own file)"


def random_model(shape: str, device, quantization: str):
    """A RANDOMLY INITIALISED model of a Devstral shape, built on ``device`` in bf16 (NF4: quantised there)."""
    import torch
    from transformers import MistralConfig, MistralForCausalLM

    from ibert_jupyter.model.random_shapes import CONFIGS, quantize_nf4_

    if shape not in CONFIGS:
        raise ValueError(f"unknown random shape {shape!r}; known: {sorted(CONFIGS)}")
    torch.manual_seed(0)
    with torch.device(device):
        model = MistralForCausalLM._from_config(MistralConfig(**CONFIGS[shape]), dtype=torch.bfloat16)
    model.requires_grad_(False)
    if quantization == "nf4":
        quantize_nf4_(model)
    return model


def load_base(config: TrainConfig) -> BaseModel:
    """The frozen base model and its tokenizer (ModelUnavailable when the weights are missing)."""
    import torch

    device = pick_device(config.device)
    if config.quantization == "nf4" and device.type != "cuda":
        raise ModelUnavailable("quantization=nf4 (QLoRA) needs a CUDA GPU for bitsandbytes; use bf16 on a CPU")
    if config.base_model.startswith(RANDOM_PREFIX):
        model = random_model(config.base_model[len(RANDOM_PREFIX):], device, config.quantization)
        tokenizer, source = load_tokenizer(config, None)
        weights, is_random = None, True
    else:
        from ibert_jupyter.model.config import ModelSettings
        from ibert_jupyter.model.loader import model_class, read_config, resolve_weights

        weights = resolve_weights(ModelSettings(model=config.base_model))
        cls = model_class(read_config(weights))
        kwargs: dict[str, Any] = {"dtype": torch.bfloat16}
        if config.quantization == "nf4":
            from transformers import BitsAndBytesConfig

            kwargs["quantization_config"] = BitsAndBytesConfig(
                load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.bfloat16,
                bnb_4bit_use_double_quant=True)
            kwargs["device_map"] = {"": device.index or 0}
        model = cls.from_pretrained(str(weights), **kwargs)
        if config.quantization != "nf4":
            model.to(device)
        model.requires_grad_(False)
        tokenizer, source = load_tokenizer(config, weights)
        is_random = False
    vocab = getattr(tokenizer, "vocab_size", None)
    if vocab and vocab > model.config.vocab_size:
        raise ModelUnavailable(f"the tokenizer has {vocab} ids but the model only {model.config.vocab_size}")
    model.config.use_cache = False
    return BaseModel(model, tokenizer, source, weights, is_random, device)


def add_lora(base: BaseModel, config: TrainConfig):
    """peft LoRA on the chosen Linears, gradient checkpointing on."""
    from peft import LoraConfig, get_peft_model

    lora = LoraConfig(
        r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
        target_modules=list(config.target_modules), bias="none", task_type="CAUSAL_LM",
        base_model_name_or_path=config.base_model,
    )
    model = base.model
    if config.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    return get_peft_model(model, lora)  # peft keeps the adapter weights in fp32
