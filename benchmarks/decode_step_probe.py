"""Where a fused decode step's time goes, and which attention variant wins (GPU only).

One call on the device machine does, in order, each phase guarded by a deadline:
1. correctness of the Triton decode-attention kernel against ``decode_attention.reference``
   (bf16, rows 1 and 8, short and long caches, splits merged or not; repeated launches must
   be bitwise equal, a race detector; counters must end at zero);
2. CUDA-graph replay time of one decode step of a ``--layers``-deep Devstral-shaped model for
   each attention variant (matmul, Triton kernel with launch options, no attention at all as
   a floor), at ~256 filled positions like ``bench decode``;
3. a profiler trace of one graph replay for some variants: every kernel's duration and the
   gap before it, in launch order;
4. full-depth (40-layer) greedy decode tok/s of the baseline and the best variants.
Prints a short table last; writes JSON (and trace tables) to --out.
Usage: python benchmarks/decode_step_probe.py [--layers 4] [--out DIR] [--budget-s 540]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from ibert_jupyter.model.kernels.decode_attention import TritonAttention, reference  # noqa: E402
from ibert_jupyter.model.kernels.decode_gemv import DEFAULT_CONFIGS, GemvConfig, decode_gemv  # noqa: E402

START = time.time()
VARIANTS = {
    "matmul": ("matmul", None),
    "triton": ("triton", TritonAttention()),
    "triton_one_split": ("triton", TritonAttention(min_chunk=1024)),
    "triton_chunk128": ("triton", TritonAttention(min_chunk=128)),
    "triton_nopdl": ("triton", TritonAttention(pdl=False)),
    "no_attention": ("skip", None),
    "triton_gemv": ("triton", TritonAttention()),  # + decode_gemv's DEFAULT_CONFIGS (the product's)
    "triton_gemv_best": ("triton", TritonAttention()),  # + the fastest decode_gemv configs found by bench_gemv
}
GEMV: dict[str, GemvConfig] = dict(DEFAULT_CONFIGS)  # bench_gemv replaces entries it beats

# (N, K, input mode) of the batch-1 products decode_gemv may take over, and configs to try
GEMV_SHAPES = {"qkv": (6144, 5120, "norm"), "down": (5120, 32768, "gated"), "o": (5120, 4096, "plain")}
GEMV_TRIES = {
    "qkv": [GemvConfig(split_k=s, block_n=n, block_k=k, num_warps=w) for s, n, k, w in (
        (1, 16, 512, 4), (1, 8, 512, 4), (1, 16, 1024, 8), (2, 16, 512, 4), (1, 4, 1024, 4), (1, 32, 256, 4),
        (2, 8, 512, 4), (1, 8, 1024, 4), (1, 16, 256, 4), (1, 16, 512, 8))],
    "down_more": [GemvConfig(split_k=s, block_n=n, block_k=k, num_warps=w) for s, n, k, w in (
        (32, 16, 256, 4), (16, 16, 256, 4), (64, 16, 256, 4), (32, 8, 512, 4), (32, 32, 256, 8), (16, 8, 512, 4),
        (64, 8, 256, 4), (32, 16, 512, 8), (32, 4, 1024, 4), (8, 4, 1024, 4), (32, 16, 256, 8), (16, 16, 512, 4))],
    "down": [GemvConfig(split_k=s, block_n=n, block_k=k, num_warps=w) for s, n, k, w in (
        (8, 16, 512, 4), (4, 16, 512, 4), (16, 16, 512, 4), (8, 32, 256, 4), (16, 32, 256, 8), (8, 8, 1024, 4),
        (8, 16, 1024, 8), (4, 32, 512, 8), (2, 16, 512, 4), (32, 16, 256, 4))],
    "o": [GemvConfig(split_k=s, block_n=n, block_k=k, num_warps=w) for s, n, k, w in (
        (1, 16, 512, 4), (2, 16, 512, 4), (4, 16, 256, 4), (2, 32, 256, 4), (1, 8, 512, 4), (2, 8, 512, 4),
        (4, 16, 512, 4), (1, 16, 1024, 8))],
}


def log(msg: str) -> None:
    print(f"[{time.time() - START:6.1f}s] {msg}", file=sys.stderr, flush=True)


def check_kernel() -> list[dict]:
    from ibert_jupyter.model.kernels import triton_attention

    rows_out = []
    heads, kvh, dim = 32, 8, 128
    cases = [(1, 1024, p, 16, 32) for p in (0, 1, 31, 32, 33, 255, 256, 1000)]
    cases += [(8, 1024, 200, 16, 32), (1, 8192, 5000, 16, 32), (8, 8192, 7000, 16, 32), (1, 1024, 300, 16, 1024),
              (1, 1024, 300, 4, 64)]
    for rows, length, pos, splits, min_chunk in cases:
        g = torch.Generator(device="cuda").manual_seed(pos + rows)
        qkv = torch.randn(rows, (heads + 2 * kvh) * dim, device="cuda", generator=g).bfloat16()
        keys = torch.randn(rows, kvh, length, dim, device="cuda", generator=g).bfloat16()
        values = torch.randn(rows, kvh, length, dim, device="cuda", generator=g).bfloat16()
        ang = torch.rand(length, dim, device="cuda", generator=g) * 6.28
        cos, sin = ang.cos().bfloat16(), ang.sin().bfloat16()
        position = torch.tensor([pos], device="cuda")
        k_ref, v_ref = keys.clone(), values.clone()
        ref = reference(qkv, position, cos, sin, k_ref, v_ref, heads, dim ** -0.5, 0).float()
        outs = []
        counters = torch.zeros(rows * kvh, dtype=torch.int32, device="cuda")
        for _ in range(3):
            k, v = keys.clone(), values.clone()
            out = torch.full((rows, heads * dim), float("nan"), dtype=torch.bfloat16, device="cuda")
            part_o = torch.full((rows, heads, splits, dim), float("nan"), device="cuda")
            part_lse = torch.full((rows, heads, splits), float("nan"), device="cuda")
            triton_attention.launch(qkv, position, cos, sin, k, v, counters, out, part_o, part_lse, heads=heads,
                                    kv_heads=kvh, scale=dim ** -0.5, window=0, splits=splits, min_chunk=min_chunk,
                                    block_n=32)
            torch.cuda.synchronize()
            outs.append(out)
        rel = ((outs[0].float() - ref).norm() / ref.norm()).item()
        k_err = ((k.float() - k_ref.float()).abs() / (k_ref.float().abs() + 1e-2)).max().item()
        row = {"rows": rows, "length": length, "pos": pos, "splits": splits, "min_chunk": min_chunk, "rel_err": rel,
               "k_cache_rel": k_err, "v_cache_equal": bool(torch.equal(v, v_ref)),
               "repeat_bitwise_equal": all(torch.equal(outs[0], o) for o in outs[1:]),
               "counters_zero": not bool(counters.any()), "nan": bool(outs[0].isnan().any())}
        row["ok"] = (rel < 2e-2 and k_err < 1e-2 and row["v_cache_equal"] and row["repeat_bitwise_equal"]
                     and row["counters_zero"] and not row["nan"])
        rows_out.append(row)
        log(f"kernel check {row}")
    return rows_out


def inductor_like_decoder() -> None:
    import torch._inductor.config as inductor_config

    inductor_config.coordinate_descent_tuning = True
    inductor_config.triton.enable_pdl = True


def time_graph(calls, reps: int = 7) -> float:
    """Median us per call of ``calls`` (a list of thunks) captured back to back in one CUDA graph."""
    for fn in calls:
        fn()
    torch.cuda.synchronize()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        for fn in calls:
            fn()
    graph.replay()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        graph.replay()
        b.record()
        torch.cuda.synchronize()
        times.append(a.elapsed_time(b) * 1e3 / len(calls))
    times.sort()
    del graph
    return times[len(times) // 2]


@torch.inference_mode()
def bench_gemv(shapes=("qkv", "down"), tries=None) -> dict:
    """Each shape: the compiled ``residual + linear`` (as the decode step has it) against
    decode_gemv configs, on rotating weight copies (more bytes than L2); keeps the fastest."""
    import torch.nn.functional as F

    inductor_like_decoder()
    report = {}
    for name, (n, k, mode) in GEMV_SHAPES.items():
        if name not in shapes:
            continue
        gated = mode == "gated"
        copies = max(2, -(-300_000_000 // (n * k * 2)))
        weights = [torch.randn(n, k, device="cuda", dtype=torch.bfloat16) * 0.02 for _ in range(copies)]
        x = torch.randn(1, 1, 2 * k if gated else k, device="cuda", dtype=torch.bfloat16)
        res = None if mode == "norm" else torch.randn(1, 1, n, device="cuda", dtype=torch.bfloat16)
        nw = torch.rand(k, device="cuda", dtype=torch.bfloat16) + 0.5 if mode == "norm" else None
        flat_res = None if res is None else res.view(-1)
        counters = torch.zeros(8192, dtype=torch.int32, device="cuda")
        calls = 3 * copies

        def plain(w, x, r):
            if gated:
                gate, up = x.chunk(2, dim=-1)
                x = F.silu(gate) * up
            if nw is not None:
                xf = x.float()
                x = nw * (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + 1e-5)).to(x.dtype)
            return F.linear(x, w) if r is None else r + F.linear(x, w)

        compiled = torch.compile(plain, fullgraph=True)
        expected = plain(weights[0], x, res).float()
        row = {"bytes": n * k * 2, "copies": copies}
        us = time_graph([lambda i=i: compiled(weights[i % copies], x, res) for i in range(calls)])
        row["inductor_us"] = round(us, 2)
        row["inductor_TBps"] = round(n * k * 2 / us / 1e6, 3)
        best = None
        for cfg in (tries or GEMV_TRIES)[name if name != "down" else "down_more"]:
            if not cfg.fits(n, k):
                continue

            def run(w, c=cfg):
                return decode_gemv(w, x.view(-1), flat_res, counters, gated, c.split_k, c.block_n, c.block_k,
                                   c.num_warps, c.pdl, nw, 1e-5)

            got = run(weights[0]).float()
            err = ((got - expected.view(-1)).norm() / expected.norm()).item()
            us = time_graph([lambda i=i: run(weights[i % copies]) for i in range(calls)])
            key = f"s{cfg.split_k}_n{cfg.block_n}_k{cfg.block_k}_w{cfg.num_warps}"
            row[key] = {"us": round(us, 2), "TBps": round(n * k * 2 / us / 1e6, 3), "rel_err": round(err, 5),
                        "counters_zero": not bool(counters.any())}
            if err < 2e-2 and not counters.any() and (best is None or us < best[0]):
                best = (us, cfg)
        if best is not None:
            row["best"] = {"us": round(best[0], 2), **best[1].__dict__}
            if best[0] < row["inductor_us"] or name in DEFAULT_CONFIGS:
                GEMV[name] = best[1]
        report[name] = row
        log(f"gemv {name}: {row}")
        weights = compiled = None  # noqa: F841 - free the copies
        torch._dynamo.reset()
        torch.cuda.empty_cache()
    return report


@torch.inference_mode()
def compare_paths(model, variant: str, steps: int = 4) -> dict:
    """The same cache state and tokens through the matmul path and ``variant`` (eager)."""
    from ibert_jupyter.model.fused_mistral import FusedMistral

    mode, options = VARIANTS[variant]
    a = FusedMistral(model, decode_attention="matmul")
    b = FusedMistral(model, decode_attention=mode, triton=options, gemv=gemv_for(variant))
    cache_a = a.new_cache(1, 1024)
    cos, sin = a.rope_tables(1024)
    prompt = torch.arange(1000, 1128, device="cuda")[None]
    logits = a.forward(prompt, torch.arange(128, device="cuda"), cache_a, cos, sin)
    cache_b = b.new_cache(1, 1024)
    for dst, src in zip(cache_b.keys + cache_b.values, cache_a.keys + cache_a.values):
        dst.copy_(src)
    rels, same = [], []
    for t in range(steps):
        token = logits.argmax(-1)[:, None]
        pos = torch.tensor([128 + t], device="cuda")
        logits = a.forward(token, pos, cache_a, cos, sin).float()
        other = b.forward(token, pos, cache_b, cos, sin).float()
        rels.append(round(((other - logits).norm() / logits.norm()).item(), 5))
        same.append(bool(torch.equal(other.argmax(-1), logits.argmax(-1))))
    return {"logits_rel": rels, "argmax_equal": same}


def gemv_for(variant: str) -> dict:
    return {"triton_gemv": DEFAULT_CONFIGS, "triton_gemv_best": GEMV}.get(variant, {})


def build(layers: int):
    from transformers import MistralConfig, MistralForCausalLM

    from ibert_jupyter.model.random_shapes import DEVSTRAL_SMALL_2507

    config = MistralConfig(**dict(DEVSTRAL_SMALL_2507, num_hidden_layers=layers))
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = MistralForCausalLM._from_config(config, dtype=torch.bfloat16)
    return model.eval().requires_grad_(False)


def decoder_for(model, variant: str):
    from ibert_jupyter.model.fast_decode import FusedDecoder

    mode, options = VARIANTS[variant]
    torch._dynamo.reset()  # one compiled step per variant (and no recompile limit)
    decoder = FusedDecoder(model, decode_attention="matmul" if mode == "skip" else mode, triton_attention=options,
                           gemv=gemv_for(variant))
    if mode == "skip":  # attention's floor: the step without it (o_proj reads q)
        fused = decoder.fused
        fused.decode_attention = "triton"
        fused._attend_one = lambda i, qkv, positions, cache, cos, sin: qkv[..., :fused.heads * fused.head_dim]
    return decoder


@torch.inference_mode()
def replay_ms(step, start_pos: int = 256, replays: int = 40, repeats: int = 7) -> float:
    times = []
    for _ in range(repeats):
        step.position.fill_(start_pos)
        torch.cuda.synchronize()
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        for _ in range(replays):
            step.run()
        b.record()
        torch.cuda.synchronize()
        times.append(a.elapsed_time(b) / replays)
    times.sort()
    return times[len(times) // 2]


@torch.inference_mode()
def trace(step, path: str) -> dict:
    """Kernels of one graph replay in order: name, duration and gap before it (us)."""
    from torch.profiler import ProfilerActivity, profile

    step.position.fill_(256)
    step.run()
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        step.run()
        torch.cuda.synchronize()
    prof.export_chrome_trace(path)
    with open(path) as fh:
        events = [e for e in json.load(fh)["traceEvents"] if e.get("cat") == "kernel"]
    events.sort(key=lambda e: e["ts"])
    table, prev_end = [], None
    for e in events:
        gap = None if prev_end is None else round(e["ts"] - prev_end, 2)
        table.append((e["name"][:70], round(e["dur"], 2), gap))
        prev_end = e["ts"] + e["dur"]
    span = events[-1]["ts"] + events[-1]["dur"] - events[0]["ts"] if events else 0
    return {"kernels": len(events), "span_us": round(span, 1), "sum_dur_us": round(sum(t[1] for t in table), 1),
            "table": table}


def full_tok_s(model, variant: str, prompt_len: int = 128, new_tokens: int = 128) -> dict:
    decoder = decoder_for(model, variant)
    prompt = list(range(1000, 1000 + prompt_len))
    t0 = time.time()
    decoder.decode(prompt, n=1, max_new_tokens=8, temperature=0.0)
    compile_s = time.time() - t0
    runs = []
    for _ in range(3):
        result = decoder.decode(prompt, n=1, max_new_tokens=new_tokens, temperature=0.0)
        runs.append((result.steps - 1) / result.decode_s)
    runs.sort()
    tokens = result.tokens[0][:16]
    del decoder
    torch.cuda.empty_cache()
    return {"tok_s": round(runs[1], 2), "tok_s_all": [round(r, 2) for r in runs], "compile_s": round(compile_s, 1),
            "first_tokens": tokens}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--out", default=".")
    parser.add_argument("--budget-s", type=float, default=540)
    parser.add_argument("--phases", default="check,gemv,replay,full")
    parser.add_argument("--variants", default="triton_gemv,triton_gemv_best")
    parser.add_argument("--trace", default="triton_gemv_best")
    parser.add_argument("--full", default="triton_gemv_best,triton_gemv", help="variants timed at full depth, in order")
    parser.add_argument("--gemv-shapes", default="qkv,down")
    args = parser.parse_args()
    phases = set(args.phases.split(","))
    os.makedirs(args.out, exist_ok=True)
    import triton

    report: dict = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "triton": triton.__version__}

    def save():
        with open(os.path.join(args.out, "probe.json"), "w") as fh:
            json.dump(report, fh, indent=1, default=str)

    def time_left() -> float:
        return args.budget_s - (time.time() - START)

    ok = True
    if "check" in phases:
        report["kernel_check"] = check = check_kernel()
        report["kernel_ok"] = ok = all(r["ok"] for r in check)
        save()
    if not ok:
        log("KERNEL CHECK FAILED: only the matmul variant is timed")
    if "gemv" in phases and ok:
        report["gemv"] = bench_gemv(tuple(args.gemv_shapes.split(",")))
        report["gemv_chosen"] = {k: v.__dict__ for k, v in GEMV.items()}
        save()
    variants = [v for v in args.variants.split(",") if v and (ok or VARIANTS[v][0] != "triton")]

    report["replay_ms"], report["traces"], report["compare"] = {}, {}, {}
    if "replay" in phases:
        model = build(args.layers)
        for variant in variants:
            if time_left() < 260:
                log(f"skip {variant}: budget")
                continue
            t0 = time.time()
            decoder = decoder_for(model, variant)
            result = decoder.decode(list(range(1000, 1128)), n=1, max_new_tokens=8, temperature=0.0)
            step = decoder.step_for(1, 128 + 8 + 1, True)
            report["replay_ms"][variant] = ms = round(replay_ms(step), 4)
            log(f"{variant}: replay {ms:.4f} ms ({time.time() - t0:.1f}s incl. compile); tokens {result.tokens[0]}")
            if variant in args.trace.split(","):
                try:
                    report["traces"][variant] = trace(step, os.path.join(args.out, f"trace_{variant}.json"))
                    os.remove(os.path.join(args.out, f"trace_{variant}.json"))
                except Exception as exc:  # noqa: BLE001 - keep the timings
                    report["traces"][variant] = {"error": f"{type(exc).__name__}: {exc}"[:400]}
            del decoder, step
            if VARIANTS[variant][0] == "triton":
                report["compare"][variant] = comp = compare_paths(model, variant)
                log(f"{variant} vs matmul, same cache and tokens: {comp}")
            torch.cuda.empty_cache()
            save()
        del model
        torch.cuda.empty_cache()

    report["full_depth"] = {}
    full = [v for v in args.full.split(",") if v and (ok or VARIANTS[v][0] != "triton")]
    if "full" in phases and full and time_left() > 110:
        model = build(40)
        for variant in full:
            if time_left() < 100:
                log(f"skip full {variant}: budget")
                continue
            report["full_depth"][variant] = r = full_tok_s(model, variant)
            log(f"full {variant}: {r}")
            save()
        del model
    for name, tr in report["traces"].items():
        if "table" in tr:
            with open(os.path.join(args.out, f"kernels_{name}.txt"), "w") as fh:
                for row in tr["table"]:
                    fh.write(f"{row[1]:8.2f} {row[2] if row[2] is not None else '':>8} {row[0]}\n")
            tr.pop("table")
    save()
    print("\n== gemv ==")
    for k, v in report.get("gemv", {}).items():
        print(k, "inductor", v.get("inductor_us"), "best", v.get("best"))
    print("== replay ms (%d-layer step) ==" % args.layers)
    for k, v in report["replay_ms"].items():
        print(f"{k:20s} {v:.4f}  {report['compare'].get(k, '')}")
    print("== traces ==")
    for k, v in report["traces"].items():
        print(k, v)
    print("== full depth tok/s ==")
    for k, v in report["full_depth"].items():
        print(k, v)
    print("kernel_ok", report.get("kernel_ok"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
