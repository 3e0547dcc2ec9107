"""Where batch-1 Devstral decode time goes, kernel by kernel (GPU only; run on the device machine).

For every weight matrix shape of one fused decoder layer (and the LM head), at M = 1 and 8
rows: achieved bytes/s of cuBLAS (F.linear) alone, against the card's measured copy and read
bandwidth; then a profile of one fused decode step (kernel families, graph replay time)
under each torch.compile mode. Prints one JSON object last. Findings: DECODE_NOTES.md.
Usage: python benchmarks/decode_kernels.py [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import sys

import torch
import torch.nn.functional as F
from triton.testing import do_bench

# Devstral-Small-2507: hidden 5120, 32 q heads / 8 kv heads of 128, intermediate 32768, vocab 131072
SHAPES = {
    "qkv": (6144, 5120),
    "o": (5120, 4096),
    "gate_up": (65536, 5120),
    "down": (5120, 32768),
    "lm_head": (131072, 5120),
}
PER_TOKEN = {"qkv": 40, "o": 40, "gate_up": 40, "down": 40, "lm_head": 1}


def bandwidths() -> dict:
    src = torch.empty(4 * 1024**3, dtype=torch.uint8, device="cuda").random_()
    dst = torch.empty_like(src)
    copy_ms = do_bench(lambda: dst.copy_(src), warmup=10, rep=100, return_mode="median")
    del dst
    as_bf16 = src.view(torch.bfloat16)
    read_ms = do_bench(lambda: as_bf16.sum(dtype=torch.float32), warmup=10, rep=100, return_mode="median")
    del src, as_bf16
    return {"copy_Bps": 2 * 4 * 1024**3 / (copy_ms / 1e3), "read_Bps": 4 * 1024**3 / (read_ms / 1e3)}


def profile_step(layers: int = 4, rows: int = 1, mode: str | None = None, attention: str = "matmul") -> dict:
    """GPU time per kernel family in one fused decode step of a ``layers``-deep Devstral-shaped
    model (compiled, not graph-captured, so the profiler sees each kernel), and the graph
    replay time of the same step: their difference is launch gaps inside the graph."""
    from transformers import MistralConfig, MistralForCausalLM

    from ibert_jupyter.model.random_shapes import DEVSTRAL_SMALL_2507
    from ibert_jupyter.model.fast_decode import FusedDecoder

    config = MistralConfig(**dict(DEVSTRAL_SMALL_2507, num_hidden_layers=layers))
    with torch.device("cuda"):
        model = MistralForCausalLM._from_config(config, dtype=torch.bfloat16).eval()
    decoder = FusedDecoder(model, mode=mode, decode_attention=attention)
    decoder.decode(list(range(100, 228)), n=rows, max_new_tokens=8, temperature=0.0)
    step = decoder.step_for(rows, 128 + 8 + 1, True)
    replay_ms = do_bench(step.run, warmup=10, rep=100, return_mode="median")
    from torch.profiler import ProfilerActivity, profile

    with torch.inference_mode(), profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(5):
            step._body()
        torch.cuda.synchronize()
    kernels = {}
    for event in prof.key_averages():
        if event.device_time_total > 0:
            kernels[event.key[:90]] = round(event.device_time_total / 5 / 1e3, 4)  # ms per step
    top = dict(sorted(kernels.items(), key=lambda kv: -kv[1])[:30])
    del model, decoder, step
    torch.cuda.empty_cache()
    return {"layers": layers, "rows": rows, "mode": mode, "attention": attention, "graph_replay_ms": replay_ms,
            "kernel_ms_sum": round(sum(kernels.values()), 4), "kernels_ms": top}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out")
    parser.add_argument("--profile-only", action="store_true")
    args = parser.parse_args()
    report = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, **bandwidths(), "shapes": {}}
    total = {1: 0.0, 8: 0.0}
    for name, (n, k) in ({} if args.profile_only else SHAPES).items():
        w = torch.randn(n, k, dtype=torch.bfloat16, device="cuda")
        for m in (1, 8):
            x = torch.randn(m, k, dtype=torch.bfloat16, device="cuda")
            row = {}
            ms = do_bench(lambda: F.linear(x, w), warmup=10, rep=50, return_mode="median")
            row["cublas_ms"], row["cublas_Bps"] = ms, w.numel() * 2 / (ms / 1e3)
            total[m] += ms * PER_TOKEN[name]
            report["shapes"][f"{name}_m{m}"] = row
            print(f"{name} m={m}: " + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                              for k, v in row.items()), file=sys.stderr, flush=True)
        del w
    report["per_token_linear_ms"] = total
    for rows, attention in ((1, "matmul"), (1, "reduce"), (8, "matmul"), (8, "reduce")):
        try:
            report[f"profile_rows{rows}_{attention}"] = prof = profile_step(rows=rows, attention=attention)
            print(json.dumps(prof, indent=1), file=sys.stderr, flush=True)
        except Exception as exc:  # noqa: BLE001 - keep the kernel table
            report[f"profile_rows{rows}_{attention}"] = {"error": f"{type(exc).__name__}: {exc}"[:800]}
    line = json.dumps(report)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(line + "\n")
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
