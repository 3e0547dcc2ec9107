"""`ibert bench decode`: Devstral decode speed against the memory-bandwidth bound.

Builds a RANDOMLY INITIALISED model with Devstral-Small-2507's exact architecture
(``MistralConfig`` below; we cannot download the weights here, and decode speed depends
only on shapes and dtypes, not on weight values) and times iBERT's production decode loop
(`ibert_jupyter.model.decoding.decode`): batch-1 tokens/s vs weight-bytes / HBM-bandwidth,
and the wall time of 8 candidates vs 1. Last stdout line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from ibert_jupyter.model.random_shapes import CONFIGS, build_random_model, quantize_nf4_  # noqa: F401

# HBM bandwidth by datasheet (bytes/s), matched on torch.cuda.get_device_name().
DATASHEET_BANDWIDTH = [
    ("H200", 4.8e12),
    ("H100 80GB HBM3", 3.35e12),
    ("H100 NVL", 3.9e12),
    ("H100 PCIe", 2.0e12),
    ("A100-SXM4-80GB", 2.039e12),
    ("A100 80GB PCIe", 1.935e12),
    ("A100", 1.555e12),
    ("L40S", 0.864e12),
]


# fast paths: "fused" is the product's (FusedDecoder: fused weights, own static cache, whole
# step + sampling in one CUDA graph, prefill shared by N rows); "hf-compiled" is the
# transformers forward with a static cache under torch.compile (the product's fallback for
# NF4 and for architectures the fused path does not cover)
FAST_PATHS = ("fused", "hf-compiled")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", choices=sorted(CONFIGS), default="devstral-small-2507")
    parser.add_argument("--dtype", choices=("bf16", "nf4"), default="bf16")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--prompt-tokens", type=int, default=128)
    parser.add_argument("--new-tokens", type=int, default=128)
    parser.add_argument("--n", type=int, default=8, help="candidates for the N-vs-1 wall-time ratio")
    parser.add_argument("--baseline-tokens", type=int, default=16,
                        help="tokens for the plain eager loop baseline (0 skips it)")
    parser.add_argument("--no-compile", action="store_true", help="time the plain path only")
    parser.add_argument("--paths", default="fused,hf-compiled",
                        help="comma-separated fast paths to time: " + ", ".join(FAST_PATHS)
                        + " (the first one that runs is the headline)")
    parser.add_argument("--temperature", type=float, default=0.7, help="sampling temperature of the N-vs-1 runs")
    parser.add_argument("--json", action="store_true", help="print the JSON result line (always last)")
    parser.add_argument("--out", help="also write the JSON object to this file")


def _log(msg: str) -> None:
    print(f"[bench decode] {msg}", file=sys.stderr, flush=True)


def decode_bytes_per_token(model) -> int:
    """Bytes of weights one decode step must read: every parameter (and NF4 quantisation
    state) except the input embedding table, of which one row per token is read."""
    embedding = model.get_input_embeddings().weight
    total = 0
    for param in model.parameters():
        if param is embedding:
            continue
        total += param.numel() * param.element_size()
        state = getattr(param, "quant_state", None)
        if state is not None:
            total += state.absmax.numel() * state.absmax.element_size()
            nested = getattr(state, "state2", None)
            if nested is not None:
                total += nested.absmax.numel() * nested.absmax.element_size()
    return total


def measured_copy_bandwidth(device) -> float:
    """Device-to-device copy bandwidth (bytes read + written per second), median of 10."""
    import torch

    src = torch.empty(2 * 1024**3, dtype=torch.uint8, device=device).random_()
    dst = torch.empty_like(src)
    times = []
    for _ in range(12):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        dst.copy_(src)
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end) / 1e3)
    del src, dst
    times = sorted(times[2:])
    return 2 * 2 * 1024**3 / times[len(times) // 2]


def datasheet_bandwidth(name: str) -> float | None:
    for key, bandwidth in DATASHEET_BANDWIDTH:
        if key in name:
            return bandwidth
    return None


def _decoder(path: str, model):
    """A callable with ``decode``'s keywords for one fast path (or the plain loop)."""
    from ibert_jupyter.model.decoding import CompiledStep, decode

    if path == "fused":
        from ibert_jupyter.model.fast_decode import FusedDecoder

        return FusedDecoder(model).decode
    step = CompiledStep(model) if path == "hf-compiled" else None
    return lambda prompt, **kw: decode(model, prompt, compiled_step=step, **kw)


def _time_decode(run_decode, prompt, n, new_tokens, temperature, warmup: int, repeats: int = 3):
    """Median (by wall time) of ``repeats`` timed requests after ``warmup`` short ones."""
    import torch

    for _ in range(warmup):
        run_decode(prompt, n=n, max_new_tokens=min(new_tokens, 8), temperature=temperature)
    timed = []
    for _ in range(repeats):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        result = run_decode(prompt, n=n, max_new_tokens=new_tokens, temperature=temperature)
        timed.append((time.perf_counter() - t0, result))
        assert all(len(row) == new_tokens for row in result.tokens), "decode stopped early"
    timed.sort(key=lambda item: item[0])
    wall, result = timed[len(timed) // 2]
    return {
        "n": n,
        "temperature": temperature,
        "new_tokens": new_tokens,
        "repeats": repeats,
        "wall_s": round(wall, 4),
        "wall_s_all": [round(t, 4) for t, _ in timed],
        "prefill_s": round(result.prefill_s, 4),
        "decode_s": round(result.decode_s, 4),
        # steps after the first token: the first comes from the prefill logits
        "tok_s": round((result.steps - 1) / result.decode_s, 3) if result.decode_s else None,
    }


def _time_path(path: str, model, prompt, args) -> dict:
    """Greedy batch-1 tokens/s, and sampled N vs 1 wall time (N identical greedy rows would be
    pointless candidates, so the ratio is measured the way the product samples)."""
    t0 = time.perf_counter()
    run_decode = _decoder(path, model)
    greedy = _time_decode(run_decode, prompt, 1, args.new_tokens, 0.0, warmup=3)
    greedy["compile_and_warmup_s"] = round(time.perf_counter() - t0 - sum(greedy["wall_s_all"]), 1)
    _log(f"[{path}] greedy n=1: {greedy}")
    one = _time_decode(run_decode, prompt, 1, args.new_tokens, args.temperature, warmup=3)
    _log(f"[{path}] sampled n=1: {one}")
    many = _time_decode(run_decode, prompt, args.n, args.new_tokens, args.temperature, warmup=3)
    _log(f"[{path}] sampled n={args.n}: {many}")
    out = {"greedy_n1": greedy, "sampled_n1": one, f"sampled_n{args.n}": many,
           "n_over_1_wall": round(many["wall_s"] / one["wall_s"], 3)}
    fused = getattr(getattr(run_decode, "__self__", None), "fused", None)
    if fused is not None:  # which kernels the fused step used (they depend on the device)
        # NF4 weights: every product is the NF4 kernel's
        products = {"nf4": sorted(fused.nf4_configs)} if fused.nf4 else {"gemv": sorted(fused.gemv)}
        out["kernels"] = {"attention": fused.decode_attention, **products}
    return out


def run(args) -> int:
    import torch

    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print(json.dumps({"error": "no CUDA device visible; use --device cpu --config tiny"}))
        return 2
    if args.dtype == "nf4" and device.type != "cuda":
        print(json.dumps({"error": "nf4 needs CUDA (bitsandbytes)"}))
        return 2
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    _log(f"device {name}; building random {args.config} ({args.dtype})")
    t0 = time.perf_counter()
    model = build_random_model(args.config, args.dtype, device)
    build_s = time.perf_counter() - t0
    weight_bytes = decode_bytes_per_token(model)
    _log(f"built in {build_s:.1f}s; {weight_bytes / 1e9:.2f} GB read per token")

    gen = torch.Generator().manual_seed(1)
    vocab = CONFIGS[args.config]["vocab_size"]
    prompt = torch.randint(vocab // 8, vocab, (args.prompt_tokens,), generator=gen).tolist()
    results: dict = {}
    if args.baseline_tokens:
        _log("plain path (dynamic cache, eager)")
        results["plain_n1"] = _time_decode(_decoder("plain", model), prompt, 1, args.baseline_tokens, 0.0,
                                           warmup=1, repeats=1)
        _log(f"plain: {results['plain_n1']}")
    headline = None
    paths = [] if args.no_compile else [p.strip() for p in args.paths.split(",") if p.strip()]
    for path in paths:
        if path not in FAST_PATHS:
            raise SystemExit(f"unknown fast path {path!r}; choose from {', '.join(FAST_PATHS)}")
        if path == "hf-compiled" and device.type != "cuda":
            continue  # torch.compile with CUDA graphs: GPU only
        try:
            results[path] = _time_path(path, model, prompt, args)
            headline = headline or path
        except Exception as exc:  # noqa: BLE001 - report which path failed, keep the rest
            results[path] = {"error": f"{type(exc).__name__}: {str(exc)[:500]}"}
            _log(f"[{path}] failed: {results[path]['error']}")
    if headline is None:
        headline = "plain"
        results["plain"] = _time_path("plain", model, prompt, args)
    one = results[headline]["greedy_n1"]
    ratio = results[headline]["n_over_1_wall"]

    datasheet = datasheet_bandwidth(name) if device.type == "cuda" else None
    copy_bw = measured_copy_bandwidth(device) if device.type == "cuda" else None
    bound = datasheet / weight_bytes if datasheet else None
    summary = {
        "model": f"RANDOM weights, {args.config} shape (Devstral weights unavailable here; speed depends on shapes only)",
        "device": name,
        "dtype": args.dtype,
        "config": args.config,
        "path": headline,
        "tok_s": one["tok_s"],
        "bound_tok_s": round(bound, 2) if bound else None,
        "fraction_of_bound": round(one["tok_s"] / bound, 4) if bound else None,
        "n8_over_n1_wall": ratio,
        "n": args.n,
        "weight_bytes_per_token": weight_bytes,
        "datasheet_bandwidth_Bps": datasheet,
        "measured_copy_bandwidth_Bps": round(copy_bw) if copy_bw else None,
        "bound_tok_s_measured_bw": round(copy_bw / weight_bytes, 2) if copy_bw else None,
        "build_s": round(build_s, 1),
        "runs": results,
        "torch": torch.__version__,
    }
    try:
        import transformers

        summary["transformers"] = transformers.__version__
    except ImportError:  # pragma: no cover
        pass
    line = json.dumps(summary)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(line + "\n")
    print(line)
    return 0


if __name__ == "__main__":  # the GPU machine runs this module directly (no ibis there)
    _parser = argparse.ArgumentParser(prog="ibert bench decode", description=__doc__)
    add_arguments(_parser)
    sys.exit(run(_parser.parse_args()))
