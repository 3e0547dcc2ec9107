"""The trainer's settings (one frozen record, the notebook's parameters) and its result."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from ibert_jupyter.model.config import DEFAULT_MODEL_ID

# every Linear of a Mistral decoder layer ("all linear layers"; lm_head stays frozen and bf16)
ALL_LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
QUANTIZATIONS = ("nf4", "bf16")
SCHEDULES = ("cosine", "linear", "constant")
WANDB_MODES = ("offline", "online", "disabled")
KERNELS = ("auto", "torch", "liger")


@dataclass(frozen=True)
class TrainConfig:
    """Everything one run needs; ``base_model`` ``random:<shape>`` builds a RANDOM model (benchmarks/tests only)."""

    base_model: str = DEFAULT_MODEL_ID  # local dir, hub id in the local HF cache, or random:devstral-small-2507
    dataset: str = "ibert-data"  # folder written by `ibert data build` (contract C)
    output_dir: str = "runs/ibert-lora"
    tokenizer: str | None = None  # tekken.json; default: the checkpoint's own, else mistral-common's bundled one
    quantization: str = "nf4"  # nf4 = QLoRA (bitsandbytes 4-bit base), bf16 = LoRA
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.0
    target_modules: tuple[str, ...] = ALL_LINEAR
    learning_rate: float = 2e-4
    lr_schedule: str = "cosine"
    warmup_steps: int = 10
    weight_decay: float = 0.0
    max_steps: int = 0  # 0: run `epochs` over the packed training rows
    epochs: float = 1.0
    seq_len: int = 4096  # tokens in one packed row
    batch_rows: int = 1  # packed rows per micro-batch (concatenated; attention stays inside each example)
    grad_accum: int = 1
    max_grad_norm: float = 1.0
    seed: int = 0
    log_every: int = 1
    eval_every: int = 50  # dev loss every N optimizer steps (0: only at the end)
    eval_rows: int = 8  # packed dev rows per dev-loss evaluation
    save_every: int = 100  # checkpoint every N steps (0: only at the end)
    keep_checkpoints: int = 2
    resume: bool = True  # continue from the newest checkpoint in output_dir
    verify_examples: int = 16  # dev examples generated + verified at the end (0 skips)
    max_new_tokens: int = 256
    max_train_examples: int = 0  # 0: all
    gradient_checkpointing: bool = True
    fused_lora: bool = True  # grouped LoRA GEMMs (training/fused_decoder.py); peft's forward when off or not applicable
    kernels: str = "auto"  # elementwise kernels of the fused path: auto (Liger on a GPU when installed), torch, liger
    device: str = "auto"
    loss_chunk: int = 2048  # rows of the chunked cross-entropy (bounds the logits held at once)
    wandb_project: str = "ibert"
    wandb_mode: str = "offline"  # offline by default: `wandb sync` later
    run_name: str | None = None

    def __post_init__(self) -> None:
        problems = []
        if self.quantization not in QUANTIZATIONS:
            problems.append(f"quantization must be one of {QUANTIZATIONS}, got {self.quantization!r}")
        if self.lr_schedule not in SCHEDULES:
            problems.append(f"lr_schedule must be one of {SCHEDULES}, got {self.lr_schedule!r}")
        if self.wandb_mode not in WANDB_MODES:
            problems.append(f"wandb_mode must be one of {WANDB_MODES}, got {self.wandb_mode!r}")
        if self.kernels not in KERNELS:
            problems.append(f"kernels must be one of {KERNELS}, got {self.kernels!r}")
        for name in ("lora_r", "lora_alpha", "seq_len", "batch_rows", "grad_accum", "loss_chunk"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be at least 1, got {getattr(self, name)}")
        if not 0.0 <= self.lora_dropout < 1.0:
            problems.append(f"lora_dropout must be in [0, 1), got {self.lora_dropout}")
        if self.learning_rate <= 0:
            problems.append(f"learning_rate must be positive, got {self.learning_rate}")
        if self.max_steps < 0 or self.epochs <= 0:
            problems.append("max_steps must be >= 0 and epochs > 0")
        unknown = set(self.target_modules) - set(ALL_LINEAR)
        if not self.target_modules or unknown:
            problems.append(f"target_modules must be a non-empty subset of {ALL_LINEAR}, got {self.target_modules}")
        if problems:
            raise ValueError("invalid training config: " + "; ".join(problems))

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> "TrainConfig":
        """Build from notebook/CLI parameters; unknown names are an error, lists become tuples."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(params) - known)
        if unknown:
            raise ValueError(f"unknown training parameter(s) {unknown}; known: {sorted(known)}")
        values = dict(params)
        if isinstance(values.get("target_modules"), str):
            values["target_modules"] = tuple(m.strip() for m in values["target_modules"].split(",") if m.strip())
        elif values.get("target_modules") is not None:
            values["target_modules"] = tuple(values["target_modules"])
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["target_modules"] = list(self.target_modules)
        return data


@dataclass(frozen=True)
class TrainResult:
    """What a run produced; ``summary()`` is the JSON edge (notebook output, CLI, W&B summary)."""

    output_dir: str
    adapter_dir: str
    base_model: str
    random_base: bool
    steps: int
    first_loss: float | None
    last_loss: float | None
    dev_loss: float | None
    tokens: int
    tokens_per_s: float
    peak_gib: float | None
    verify: dict[str, Any] = field(default_factory=dict)
    wandb_dir: str | None = None
    metrics_file: str = ""
    resumed_from: int = 0

    def summary(self) -> dict[str, Any]:
        return asdict(self)
