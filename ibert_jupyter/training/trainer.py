"""One training run: data -> packed rows -> LoRA/QLoRA steps -> checkpoints, dev loss, W&B -> adapter.

Runs the same under a plain process, ``accelerate launch`` or ``torchrun``: ``accelerate``'s
``Accelerator`` reads the launcher's environment and wraps the objective in DDP (gloo on CPUs,
NCCL on GPUs). Every rank reads the same packed rows and takes its own share of each step.
"""

from __future__ import annotations

import json
import math
import random
import shutil
import time
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path
from typing import Any, Sequence

from ibert_jupyter.training.config import TrainConfig, TrainResult
from ibert_jupyter.training.packing import PackedRow, collate

CHECKPOINTS = "checkpoints"
ADAPTER = "adapter"


class BatchPlan:
    """Which packed rows rank ``rank`` takes at global micro-batch ``i`` (deterministic: resumable)."""

    def __init__(self, rows: Sequence[PackedRow], batch_rows: int, world: int, rank: int, seed: int):
        self.rows, self.batch_rows, self.world, self.rank, self.seed = rows, batch_rows, world, rank, seed
        self.per_epoch = len(rows) // (batch_rows * world)
        if self.per_epoch < 1:
            raise ValueError(f"{len(rows)} packed training rows cannot fill one batch of {batch_rows} rows "
                             f"on {world} process(es): use more data, a longer seq_len or fewer processes")
        self._order: tuple[int, list[int]] | None = None

    def rows_at(self, i: int) -> list[PackedRow]:
        epoch, j = divmod(i, self.per_epoch)
        if self._order is None or self._order[0] != epoch:
            order = list(range(len(self.rows)))
            random.Random(self.seed + epoch).shuffle(order)
            self._order = (epoch, order)
        start = (j * self.world + self.rank) * self.batch_rows
        return [self.rows[k] for k in self._order[1][start:start + self.batch_rows]]


def total_steps(config: TrainConfig, plan: BatchPlan) -> int:
    if config.max_steps:
        return config.max_steps
    return max(1, math.ceil(config.epochs * plan.per_epoch / config.grad_accum))


def latest_checkpoint(output_dir: Path) -> Path | None:
    found = sorted((output_dir / CHECKPOINTS).glob("step-*"), key=lambda p: int(p.name.split("-")[1]))
    return next((p for p in reversed(found) if (p / "trainer_state.pt").is_file()), None)


def save_checkpoint(output_dir: Path, step: int, peft_model, optimizer, scheduler, keep: int) -> Path:
    import torch
    from peft import get_peft_model_state_dict

    folder = output_dir / CHECKPOINTS / f"step-{step}"
    folder.mkdir(parents=True, exist_ok=True)
    state = {
        "step": step,
        "adapter": get_peft_model_state_dict(peft_model),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "rng": {"python": random.getstate(), "torch": torch.get_rng_state()},
    }
    torch.save(state, folder / "trainer_state.tmp")
    (folder / "trainer_state.tmp").rename(folder / "trainer_state.pt")
    old = sorted((output_dir / CHECKPOINTS).glob("step-*"), key=lambda p: int(p.name.split("-")[1]))
    for stale in old[:-keep] if keep > 0 else []:
        shutil.rmtree(stale, ignore_errors=True)
    return folder


def load_checkpoint(folder: Path, peft_model, optimizer, scheduler) -> int:
    import torch
    from peft import set_peft_model_state_dict

    state = torch.load(folder / "trainer_state.pt", map_location="cpu", weights_only=False)
    set_peft_model_state_dict(peft_model, state["adapter"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    random.setstate(state["rng"]["python"])
    torch.set_rng_state(state["rng"]["torch"])
    return int(state["step"])


def peak_gib(device) -> float | None:
    import torch

    return round(torch.cuda.max_memory_allocated(device) / 2**30, 2) if device.type == "cuda" else None


def synchronize(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


class RunLog:
    """metrics.jsonl always; W&B too (offline by default) on the main process."""

    def __init__(self, config: TrainConfig, output_dir: Path, main: bool, extra_config: dict):
        self.main = main
        self.file = output_dir / "metrics.jsonl"
        self.wandb = None
        self.wandb_dir: str | None = None
        if not main:
            return
        if config.wandb_mode != "disabled":
            import wandb

            run = wandb.init(project=config.wandb_project, name=config.run_name, mode=config.wandb_mode,
                             dir=str(output_dir), config={**config.to_dict(), **extra_config}, reinit="finish_previous")
            self.wandb = run
            self.wandb_dir = str(Path(run.dir).parent)

    def log(self, metrics: dict[str, Any], step: int) -> None:
        if not self.main:
            return
        with self.file.open("a") as fh:
            fh.write(json.dumps({"step": step, **metrics}) + "\n")
        if self.wandb is not None:
            self.wandb.log(metrics, step=step)

    def finish(self, summary: dict[str, Any], adapter_dir: Path | None) -> None:
        if self.wandb is None:
            return
        import wandb

        for key, value in summary.items():
            if isinstance(value, (int, float, str, bool)) or value is None:
                self.wandb.summary[key] = value
        if adapter_dir is not None:
            artifact = wandb.Artifact("ibert-lora", type="model", metadata={"random_base": summary.get("random_base")})
            artifact.add_dir(str(adapter_dir))
            self.wandb.log_artifact(artifact)
        record = {"run_id": self.wandb.id, "mode": self.wandb.settings.mode, "project": self.wandb.project,
                  "dir": self.wandb_dir, "summary": dict(self.wandb.summary)}
        self.wandb.finish()
        # offline runs keep the summary only inside the binary .wandb log: a readable copy for the record
        (self.file.parent / "wandb_summary.json").write_text(json.dumps(record, indent=2, default=str))


def dev_loss(objective, rows: Sequence[PackedRow], config: TrainConfig, accelerator, device) -> float | None:
    import torch

    mine = rows[accelerator.process_index::accelerator.num_processes]
    totals = torch.zeros(2, dtype=torch.float64, device=device)
    objective.eval()
    with torch.no_grad():
        for start in range(0, len(mine), config.batch_rows):
            batch = collate(mine[start:start + config.batch_rows], device)
            n = int((batch["targets"] != -100).sum())
            loss = objective(batch["input_ids"], batch["position_ids"], batch["targets"], batch["cu_seqlens"])
            totals += torch.tensor([float(loss) * n, n], dtype=torch.float64, device=device)
    objective.train()
    totals = accelerator.reduce(totals, reduction="sum")
    return float(totals[0] / totals[1]) if totals[1] > 0 else None


def write_adapter_card(adapter_dir: Path, config: TrainConfig, is_random: bool, tokenizer_source: str) -> None:
    lines = [
        "# iBERT LoRA adapter", "",
        f"- base model: `{config.base_model}`" + (" — RANDOMLY INITIALISED (benchmark/test run, not a usable adapter)"
                                                  if is_random else ""),
        f"- quantization during training: {config.quantization}; rank {config.lora_r}, alpha {config.lora_alpha}, "
        f"targets {', '.join(config.target_modules)}",
        f"- tokenizer: {tokenizer_source}",
        "- load: `IBERT_ADAPTER=<this folder>`; serve: `vllm serve <base> --enable-lora --lora-modules ibert=<this folder>`",
    ]
    (adapter_dir / "README.md").write_text("\n".join(lines) + "\n")


def run(config: TrainConfig) -> TrainResult:  # noqa: PLR0915 - the run reads top to bottom
    import torch
    from accelerate import Accelerator
    from accelerate.utils import DistributedDataParallelKwargs
    from tqdm.auto import tqdm
    from transformers import get_scheduler

    from ibert_jupyter.training import attention
    from ibert_jupyter.training.dataset import ExampleEncoder, load_split
    from ibert_jupyter.training.model_setup import add_lora, load_base, pick_device
    from ibert_jupyter.training.objective import PackedCausalLMLoss
    from ibert_jupyter.training.packing import pack
    from ibert_jupyter.training.verify_check import verified_generation

    device = pick_device(config.device)
    accelerator = Accelerator(cpu=device.type == "cpu", device_placement=False,
                              kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=False)])
    main = accelerator.is_main_process
    if device.type == "cuda":
        device = accelerator.device
        config = replace(config, device=str(device))
    output_dir = Path(config.output_dir).expanduser()
    output_dir.mkdir(parents=True, exist_ok=True)
    random.seed(config.seed)
    torch.manual_seed(config.seed)

    # data first: a broken dataset fails before a 24B model is loaded
    train_rows = load_split(config.dataset, "train")
    dev_rows = load_split(config.dataset, "dev")
    if config.max_train_examples:
        train_rows = train_rows[: config.max_train_examples]

    base = load_base(config)
    encoder = ExampleEncoder(base.chat_tokenizer)
    train_pack = pack(encoder.encode_rows(train_rows, progress=main), config.seq_len, config.seed)
    dev_pack = pack(encoder.encode_rows(dev_rows), config.seq_len, config.seed)
    plan = BatchPlan(train_pack.rows, config.batch_rows, accelerator.num_processes, accelerator.process_index,
                     config.seed)
    steps = total_steps(config, plan)

    peft_model = add_lora(base, config)
    if device.type == "cuda":  # peaks below are training's, not the load's (a random NF4 base is built in bf16 first)
        torch.cuda.reset_peak_memory_stats(device)
    attention.use(peft_model, attention.NAME)
    objective = PackedCausalLMLoss(peft_model, config.loss_chunk, config.fused_lora, config.kernels,
                                   log=lambda msg: tqdm.write(msg) if main else None)
    forward_path = objective.path
    params = [p for p in peft_model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=config.weight_decay)
    scheduler = get_scheduler(config.lr_schedule, optimizer, num_warmup_steps=config.warmup_steps,
                              num_training_steps=steps)
    start = 0
    resumed = latest_checkpoint(output_dir) if config.resume else None
    if resumed is not None:
        start = load_checkpoint(resumed, peft_model, optimizer, scheduler)
    objective = accelerator.prepare(objective)

    data_info = {
        "random_base": base.random, "tokenizer_source": base.tokenizer_source,
        "train_examples": len(train_rows), "train_rows": len(train_pack.rows), "train_dropped": train_pack.dropped,
        "dev_rows": len(dev_pack.rows), "total_steps": steps, "world_size": accelerator.num_processes,
        "trainable_params": sum(p.numel() for p in params), "forward_path": forward_path,
    }
    log = RunLog(config, output_dir, main, data_info)
    if main:
        (output_dir / "run_info.json").write_text(json.dumps({**config.to_dict(), **data_info}, indent=2))

    first_loss = last_loss = dev = None
    tokens_total = 0
    run_start = time.perf_counter()
    window_tokens, window_start = 0, time.perf_counter()
    bar = tqdm(total=steps, initial=start, desc="training", disable=not main)
    objective.train()
    for step in range(start + 1, steps + 1):
        losses = []
        for micro in range(config.grad_accum):
            batch = collate(plan.rows_at((step - 1) * config.grad_accum + micro), device)
            sync = micro == config.grad_accum - 1
            with nullcontext() if sync else accelerator.no_sync(objective):
                loss = objective(batch["input_ids"], batch["position_ids"], batch["targets"], batch["cu_seqlens"])
                accelerator.backward(loss / config.grad_accum)
            losses.append(loss.detach())
            window_tokens += batch["input_ids"].numel()
        grad_norm = torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step_loss = float(accelerator.reduce(torch.stack(losses).mean(), reduction="mean"))
        first_loss = step_loss if first_loss is None else first_loss
        last_loss = step_loss
        if step % config.log_every == 0 or step == steps:
            synchronize(device)
            elapsed = time.perf_counter() - window_start
            tokens = int(accelerator.reduce(torch.tensor(window_tokens, device=device), reduction="sum"))
            tokens_total += tokens
            log.log({"train/loss": step_loss, "train/lr": scheduler.get_last_lr()[0],
                     "train/grad_norm": float(grad_norm), "train/tokens_per_s": tokens / max(elapsed, 1e-9),
                     "train/gpu_peak_gib": peak_gib(device)}, step)
            window_tokens, window_start = 0, time.perf_counter()
        bar.update(1)
        bar.set_postfix(loss=f"{step_loss:.4f}")
        if config.eval_every and step % config.eval_every == 0 and step != steps and dev_pack.rows:
            dev = dev_loss(objective, dev_pack.rows[: config.eval_rows], config, accelerator, device)
            log.log({"dev/loss": dev}, step)
        if config.save_every and step % config.save_every == 0 and step != steps and main:
            save_checkpoint(output_dir, step, peft_model, optimizer, scheduler, config.keep_checkpoints)
    bar.close()
    synchronize(device)
    train_seconds = time.perf_counter() - run_start
    if dev_pack.rows:
        dev = dev_loss(objective, dev_pack.rows[: config.eval_rows], config, accelerator, device)
        log.log({"dev/loss": dev}, steps)

    adapter_dir = output_dir / ADAPTER
    verify: dict[str, Any] = {}
    accelerator.wait_for_everyone()
    if main:
        save_checkpoint(output_dir, steps, peft_model, optimizer, scheduler, config.keep_checkpoints)
        peft_model.save_pretrained(str(adapter_dir))
        write_adapter_card(adapter_dir, config, base.random, base.tokenizer_source)
        if config.verify_examples:
            verify = verified_generation(peft_model, base.chat_tokenizer, dev_rows, config.verify_examples,
                                         config.max_new_tokens, device)
            log.log({f"dev/verify_{k}": v for k, v in verify.items() if isinstance(v, (int, float))}, steps)
    result = TrainResult(
        output_dir=str(output_dir), adapter_dir=str(adapter_dir), base_model=config.base_model,
        random_base=base.random, steps=steps, first_loss=first_loss, last_loss=last_loss, dev_loss=dev,
        tokens=tokens_total, tokens_per_s=tokens_total / max(train_seconds, 1e-9), peak_gib=peak_gib(device),
        verify=verify, wandb_dir=log.wandb_dir, metrics_file=str(log.file), resumed_from=start,
    )
    if main:
        (output_dir / "summary.json").write_text(json.dumps(result.summary(), indent=2))
        log.finish(result.summary(), adapter_dir)
    accelerator.wait_for_everyone()
    return result
