"""`ibert bench train`: LoRA / QLoRA training speed and memory, iBERT's trainer vs plain transformers + peft.

Both run in the same process on the same RANDOMLY INITIALISED model of Devstral-Small-2507's
shape (weights cannot be downloaded here; speed and memory depend on shapes and dtypes only),
rank-16 LoRA on every decoder Linear, gradient checkpointing, SDPA:

- baseline: ``model(input_ids, attention_mask, labels)`` on padded batches (the usual padding
  collator), transformers computing full-vocabulary logits and the loss;
- iBERT: packed rows (positions restart per example, attention inside each example, no
  padding), chunked cross-entropy through the frozen head (no [tokens x 131k] logits), and
  the leftover memory (up to the baseline's peak) spent on recomputing fewer layers.

Measured: fixed full-length rows (tok/s, peak GiB); the built dataset's length distribution
(real, non-padding tok/s); the longest single sequence that trains under an 80 GiB allocator
cap (an H100's memory). Last stdout line: one JSON object.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import sys
import time
from pathlib import Path

from ibert_jupyter.model.random_shapes import CONFIGS

H100_GIB = 80
MAX_SEQ_GRID = (4096, 8192, 16384, 24576, 32768, 49152, 65536, 98304, 131072)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", choices=sorted(CONFIGS), default="devstral-small-2507")
    parser.add_argument("--dtypes", default="bf16,nf4", help="comma-separated: bf16 (LoRA), nf4 (QLoRA)")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--seq", type=int, default=2048, help="fixed row length")
    parser.add_argument("--batch", type=int, default=1, help="rows per step in the fixed-row test (both paths)")
    parser.add_argument("--steps", type=int, default=3, help="timed steps per measurement (after one warm-up)")
    parser.add_argument("--dataset", help="`ibert data build` folder whose train lengths (n_tokens) are sampled")
    parser.add_argument("--dist-examples", type=int, default=96, help="examples drawn from the length distribution")
    parser.add_argument("--dist-batch", type=int, default=4, help="baseline padded batch size on the distribution")
    parser.add_argument("--pack-len", type=int, default=4096, help="iBERT packed row length on the distribution")
    parser.add_argument("--mem-gib", type=float, default=H100_GIB, help="allocator cap for every measurement")
    parser.add_argument("--max-seq-limit", type=int, default=65536, help="largest length tried (0 skips the search)")
    parser.add_argument("--keep-layers", default="0,4,8,12,16",
                        help="layers left un-recomputed to try on the fast path (largest that fits the baseline peak)")
    parser.add_argument("--kernels", default="auto", choices=("auto", "torch", "liger"),
                        help="elementwise kernels of the fast path (auto: Liger when installed)")
    parser.add_argument("--json", action="store_true", help="print the JSON result line (always last)")
    parser.add_argument("--out", help="also write the JSON object (and partial results) to this file")


def _log(msg: str) -> None:
    print(f"[bench train] {msg}", file=sys.stderr, flush=True)


def dataset_lengths(folder: str | None, config_name: str) -> tuple[list[int], str]:
    """Token lengths of the built dataset's train split (n_tokens, Devstral chat format)."""
    if not folder:
        raise SystemExit("--dataset is required: the length distribution comes from `ibert data build`")
    import pyarrow.parquet as pq

    from ibert_jupyter.training.dataset import split_files

    files = split_files(folder, "train")
    if not files:
        raise SystemExit(f"{folder}/data has no train parquet files")
    lengths = [int(n) for f in files for n in pq.read_table(f, columns=["n_tokens"]).column("n_tokens").to_pylist()]
    lengths = [n for n in lengths if n > 1]
    return lengths, f"{folder} train split n_tokens ({len(lengths)} examples)"


def _free() -> None:
    import torch

    gc.collect()
    torch.cuda.empty_cache() if torch.cuda.is_available() else None


def _peak(device) -> float | None:
    import torch

    return torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _reset_peak(device) -> None:
    import torch

    _free()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


class Paths:
    """The two training steps over one peft model: ``baseline(batch)`` and ``fast(batch)``."""

    def __init__(self, peft_model, device, kernels: str = "auto"):
        from ibert_jupyter.training.objective import PackedCausalLMLoss

        self.model = peft_model
        self.device = device
        self.objective = PackedCausalLMLoss(peft_model, kernels=kernels, log=_log)
        # ablation: the same packed rows and chunked loss through peft's own forward (last session's fast path)
        self.peft_objective = PackedCausalLMLoss(peft_model, fused=False)

    def baseline_step(self, rows: list[list[int]]) -> int:
        """Usual collator: right-pad to the longest row, labels -100 on padding; HF computes the loss."""
        import torch

        from ibert_jupyter.training import attention

        attention.use(self.model, "sdpa")
        width = max(len(r) for r in rows)
        ids = torch.zeros((len(rows), width), dtype=torch.long)
        mask = torch.zeros_like(ids)
        for i, r in enumerate(rows):
            ids[i, : len(r)] = torch.tensor(r)
            mask[i, : len(r)] = 1
        labels = ids.masked_fill(mask == 0, -100)
        out = self.model(input_ids=ids.to(self.device), attention_mask=mask.to(self.device),
                         labels=labels.to(self.device), use_cache=False)
        out.loss.backward()
        return int(mask.sum())

    def fast_step(self, rows: list[list[int]], objective=None) -> int:
        """Packed: one [1, total] row, positions per example, loss on every real next token."""
        import torch

        from ibert_jupyter.training import attention

        attention.use(self.model, attention.NAME)
        ids, pos, tgt, bounds = [], [], [], [0]
        for r in rows:
            ids += r
            pos += range(len(r))
            tgt += r[1:] + [-100]
            bounds.append(bounds[-1] + len(r))
        as_t = lambda v: torch.tensor([v], dtype=torch.long, device=self.device)  # noqa: E731
        loss = (objective or self.objective)(as_t(ids), as_t(pos), as_t(tgt), tuple(bounds))
        loss.backward()
        return len(ids)

    def zero(self) -> None:
        for p in self.model.parameters():
            p.grad = None


def timed(step, batches: list, warmup: int, device) -> tuple[float, float | None]:
    """(real tokens/s over ``batches`` after ``warmup`` of them, peak GiB)."""
    _reset_peak(device)
    for b in batches[:warmup]:
        step(b)
    _sync(device)
    start = time.perf_counter()
    tokens = 0
    for b in batches[warmup:]:
        tokens += step(b)
    _sync(device)
    return tokens / (time.perf_counter() - start), _peak(device)


def set_recompute(model, keep: int) -> None:
    """Checkpoint every decoder layer except the last ``keep`` (their activations stay in memory)."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    layers = base.model.layers
    for i, layer in enumerate(layers):
        layer.gradient_checkpointing = i < len(layers) - keep


def fits(step_fn, vocab: int, length: int, device) -> bool:
    """Does one training step on a single ``length``-token row fit under the allocator cap?"""
    import torch

    _free()
    try:
        step_fn([[random.randrange(vocab) for _ in range(length)]])
        _sync(device)
        _log(f"  seq {length}: fits")
        return True
    except torch.OutOfMemoryError:
        _log(f"  seq {length}: out of memory")
        return False
    finally:
        _free()


def max_seq(step_fn, vocab: int, limit: int, device, above: int = 0) -> int:
    """Longest grid length (<= limit) whose step fits, climbing from ``above``; the limit is tried first
    when ``above`` is set (the fast path usually fits it: one long step instead of many)."""
    grid = [n for n in MAX_SEQ_GRID if above < n <= limit] or [limit]
    if above and fits(step_fn, vocab, grid[-1], device):
        return grid[-1]
    best = above
    for length in grid[:-1] if above else grid:
        if not fits(step_fn, vocab, length, device):
            break
        best = length
    return best


def measure_dtype(model, dtype: str, args, lengths: list[int], device, vocab: int) -> dict:
    from peft import LoraConfig, get_peft_model

    from ibert_jupyter.training.config import ALL_LINEAR

    rng = random.Random(0)
    peft_model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0, target_modules=list(ALL_LINEAR),
                                                  task_type="CAUSAL_LM"))
    peft_model.train()
    paths = Paths(peft_model, device, args.kernels)
    row = {"path": paths.objective.path}

    def step(fn):
        def run(batch):
            n = fn(batch)
            paths.zero()
            return n
        return run

    fixed = [[[rng.randrange(vocab) for _ in range(args.seq)] for _ in range(args.batch)] for _ in range(args.steps + 1)]
    set_recompute(peft_model, 0)
    base_tok, base_peak = timed(step(paths.baseline_step), fixed, 1, device)
    _log(f"{dtype} fixed {args.seq}x{args.batch}: baseline {base_tok:.0f} tok/s, peak {base_peak} GiB")
    best = None
    for keep in [int(k) for k in args.keep_layers.split(",") if k.strip()]:
        set_recompute(peft_model, keep)
        try:
            tok, peak = timed(step(paths.fast_step), fixed, 1, device)
        except Exception as exc:  # noqa: BLE001 - OOM at this setting: stop trying more
            _log(f"{dtype} fast keep={keep}: {type(exc).__name__}: {str(exc)[:300]}")
            paths.zero()
            _free()
            break
        _log(f"{dtype} fixed fast keep={keep}: {tok:.0f} tok/s, peak {peak} GiB")
        fits = peak is None or base_peak is None or peak <= base_peak
        if best is None or (fits and tok > best[1]):
            best = (keep, tok, peak)
        if not fits:
            break
    if best is None:
        raise RuntimeError(f"{dtype}: the fast path failed at every --keep-layers setting (see the log above)")
    keep, fast_tok, fast_peak = best
    set_recompute(peft_model, 0)
    peft_tok, peft_peak = timed(step(lambda b: paths.fast_step(b, paths.peft_objective)), fixed, 1, device)
    _log(f"{dtype} fixed, packed + chunked loss through peft's forward: {peft_tok:.0f} tok/s, peak {peft_peak} GiB")
    row["ablation_peft_forward"] = {"tok_s": round(peft_tok, 1), "peak_gib": _r(peft_peak)}
    set_recompute(peft_model, keep)
    row.update(tok_s=round(fast_tok, 1), baseline_tok_s=round(base_tok, 1), speedup=round(fast_tok / base_tok, 3),
               peak_gib=round(fast_peak, 2) if fast_peak else None,
               baseline_peak_gib=round(base_peak, 2) if base_peak else None, layers_not_recomputed=keep,
               fixed_rows=f"{args.batch} x {args.seq} tokens")

    # the built dataset's length distribution: same examples, padded batches vs packed rows
    sample = [rng.choice(lengths) for _ in range(args.dist_examples)]
    sample = [min(n, args.pack_len) for n in sample]
    examples = [[rng.randrange(vocab) for _ in range(n)] for n in sample]
    padded = [examples[i:i + args.dist_batch] for i in range(0, len(examples), args.dist_batch)]
    from ibert_jupyter.training.dataset import TokenizedExample
    from ibert_jupyter.training.packing import pack

    packed_rows = pack([TokenizedExample(str(i), tuple(e), 1) for i, e in enumerate(examples)], args.pack_len).rows
    packed = [[list(row.ids[a:b]) for a, b in zip((0,) + _cum(row.lengths)[:-1], _cum(row.lengths))]
              for row in packed_rows]
    # one untimed pass over every batch first: each new shape's one-off costs (kernel selection,
    # Triton specialisation) are paid by both paths before the clock starts, as in a long run
    set_recompute(peft_model, 0)
    base_real, base_dist_peak = timed(step(paths.baseline_step), padded + padded, len(padded), device)
    set_recompute(peft_model, keep)
    fast_real, fast_dist_peak = timed(step(paths.fast_step), packed + packed, len(packed), device)
    _log(f"{dtype} distribution: baseline {base_real:.0f} real tok/s, iBERT {fast_real:.0f}")
    row.update(real_tok_s=round(fast_real, 1), baseline_real_tok_s=round(base_real, 1),
               real_speedup=round(fast_real / base_real, 3),
               distribution={"examples": len(examples), "mean_tokens": round(sum(sample) / len(sample), 1),
                             "max_tokens": max(sample), "baseline_batch": args.dist_batch,
                             "pack_len": args.pack_len, "packed_rows": len(packed),
                             "baseline_padding_fraction": round(1 - sum(sample) / sum(
                                 len(b) * max(len(x) for x in b) for b in padded), 3),
                             "peak_gib": _r(fast_dist_peak), "baseline_peak_gib": _r(base_dist_peak)})

    if args.max_seq_limit:
        set_recompute(peft_model, 0)
        row["baseline_max_seq_80gib"] = max_seq(step(paths.baseline_step), vocab, args.max_seq_limit, device)
        row["max_seq_80gib"] = max_seq(step(paths.fast_step), vocab, args.max_seq_limit, device,
                                       above=row["baseline_max_seq_80gib"])
        row["max_seq_grid_limit"] = args.max_seq_limit
    peft_model.unload()
    return row


def _cum(lengths) -> tuple[int, ...]:
    out, total = [], 0
    for n in lengths:
        total += n
        out.append(total)
    return tuple(out)


def _r(x):
    return round(x, 2) if x is not None else None


def run(args) -> int:
    import torch

    from ibert_jupyter.training.model_setup import random_model

    device = torch.device(args.device)
    if device.type == "cuda":
        device = torch.device("cuda", device.index or 0)
        if not torch.cuda.is_available():
            raise SystemExit("no CUDA GPU visible: `ibert bench train` measures GPU training (use --device cpu "
                             "--config tiny to exercise it on a CPU)")
        total = torch.cuda.get_device_properties(device).total_memory / 2**30
        torch.cuda.set_per_process_memory_fraction(min(1.0, args.mem_gib / total), device)
    lengths, lengths_source = dataset_lengths(args.dataset, args.config)
    dtypes = [d.strip() for d in args.dtypes.split(",") if d.strip()]
    result = {
        "benchmark": "train",
        "model": f"RANDOM weights, {args.config} shape (Devstral weights unavailable here)",
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "memory_cap_gib": args.mem_gib, "lora": "rank 16, alpha 32, all 7 decoder Linears, dropout 0",
        "baseline": "transformers + peft (+ bitsandbytes NF4), gradient checkpointing, SDPA, padding collator, HF loss",
        "fast_path": "packed rows + per-example SDPA (flash) + grouped LoRA GEMMs (q/k/v, gate/up; adapters in bf16, "
                     "hand-written backward) + Liger RMSNorm/RoPE/SwiGLU + chunked frozen-head cross-entropy + "
                     "fewer recomputed layers within the baseline's peak",
        "lengths_source": lengths_source, "versions": _versions(), "rows": {},
    }
    start = time.perf_counter()
    model = random_model(args.config, device, "bf16")
    model.config.use_cache = False
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.enable_input_require_grads()
    _log(f"built random {args.config} in {time.perf_counter() - start:.0f}s")
    vocab = model.config.vocab_size
    for dtype in dtypes:
        if dtype == "nf4":
            from ibert_jupyter.model.random_shapes import quantize_nf4_

            quantize_nf4_(model)
            _free()
        result["rows"][dtype] = measure_dtype(model, dtype, args, lengths, device, vocab)
        if args.out:
            Path(args.out).write_text(json.dumps(result, indent=2))
    result["wall_s"] = round(time.perf_counter() - start, 1)
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2))
    if args.json:
        print(json.dumps(result))
    else:
        print(json.dumps(result, indent=2))
    return 0


def _versions() -> dict:
    import importlib

    out = {}
    for name in ("torch", "transformers", "peft", "bitsandbytes"):
        try:
            out[name] = importlib.import_module(name).__version__
        except Exception:  # noqa: BLE001
            out[name] = None
    return out
