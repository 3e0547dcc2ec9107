"""`ibert bench e2e`: one %%ibert request through the server's path, timed stage by stage.

The path a request takes on the server: the kernel's schema snapshot arrives as JSON →
unbound tables are rebuilt from it → retrieval and the prompt (schemas + API docs) → N
candidates from the model in one batched decode → each candidate verified against the
tables. The baseline, measured in the same run on the same prompt: decoding the same number
of tokens for ONE candidate. Targets: verification ≤ 5 % of the total, total ≤ 1.5× that baseline.

Weights: ``--config devstral-small-2507`` builds a RANDOMLY INITIALISED model of Devstral's
exact shape on the device (speed depends on shapes, not values; it says "random" in the JSON)
with mistral-common's bundled Tekken vocabulary (same size as Devstral's; not Devstral's own
file); ``--model DIR`` loads a weights folder through the product's loader. A random model's
candidates never compile, so verifying them is cheaper than verifying real ones; the JSON
also times verifying N real programs (IbisBench's TPC-H gold programs, which compile) on the
same tables, and gives the ratio with that verification in place (``*_if_compiled``).
Last stdout line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

REQUEST = "total revenue per nation in 1995, top 5"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--config", choices=("devstral-small-2507",), default="devstral-small-2507",
                        help="build random weights of this shape on --device (default)")
    source.add_argument("--model", help="a weights folder (config.json, safetensors, tekken.json) instead")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--n", type=int, default=8, help="candidates per request")
    parser.add_argument("--new-tokens", type=int, default=256, help="max new tokens per candidate")
    parser.add_argument("--repeats", type=int, default=3, help="timed requests (medians reported)")
    parser.add_argument("--json", action="store_true", help="print the JSON result line (always last)")
    parser.add_argument("--out", help="also write the JSON object to this file")


def _log(msg: str) -> None:
    print(f"[bench e2e] {msg}", file=sys.stderr, flush=True)


def load_model(args):
    """(ChatModel, description): random Devstral-shaped weights, or a folder via the product loader."""
    from ibert_jupyter.model.config import ModelSettings
    from ibert_jupyter.model.local import LocalChatModel

    if args.model:
        settings = ModelSettings(model=args.model, device=args.device)
        return LocalChatModel.from_settings(settings), f"weights from {args.model}"
    import importlib.resources

    import torch

    from ibert_jupyter.model.random_shapes import build_random_model
    from ibert_jupyter.model.loader import LoadedModel
    from ibert_jupyter.model.tokenizer import MistralCommonTokenizer

    tekken = Path(str(importlib.resources.files("mistral_common"))) / "data" / "tekken_240911.json"
    model = build_random_model(args.config, "bf16", args.device)
    loaded = LoadedModel(model, MistralCommonTokenizer(tekken), Path("random"), torch.device(args.device), None,
                         "bf16")
    settings = ModelSettings(model=f"random {args.config}", device=args.device)
    return LocalChatModel(loaded, settings), (f"RANDOM weights of {args.config}'s shape, tokenizer: "
                                              "mistral-common's bundled tekken_240911.json (not Devstral's own)")


def kernel_snapshot() -> dict:
    """What the kernel sends: the schema snapshot of a notebook holding the TPC-H tables."""
    from ibert_jupyter.context import schema_snapshot
    from ibert_jupyter.data import tpc

    con = tpc.connect("h", scale=0.001)
    return schema_snapshot({name: con.table(name) for name in con.list_tables()})


class TimedSource:
    """The model's candidate source, timed: when it was asked, how long decoding took."""

    def __init__(self, inner):
        self.inner, self.started, self.decode_s, self.tokens = inner, 0.0, 0.0, []

    def candidates(self, messages, n, on_token):
        from ibert_jupyter.model.base import GenerationRequest

        self.started = time.perf_counter()
        request = GenerationRequest(messages=list(messages), n=n, max_new_tokens=self.inner.max_new_tokens,
                                    temperature=self.inner.temperature, top_p=self.inner.top_p)
        completions = self.inner.model.generate(request, on_token)
        self.decode_s = time.perf_counter() - self.started
        self.tokens = [c.tokens for c in completions]
        return [c.text for c in completions]


def one_request(model, body: bytes, n: int, new_tokens: int) -> dict:
    """One request as the server runs it; stage times in ms."""
    from ibert_jupyter.context import tables_from_snapshot
    from ibert_jupyter.generate import ModelCandidateSource, generate_verified

    t0 = time.perf_counter()
    req = json.loads(body)
    tables = tables_from_snapshot(req["snapshot"])
    t_parsed = time.perf_counter()
    source = TimedSource(ModelCandidateSource(model, max_new_tokens=new_tokens))
    docs = []
    result = generate_verified(req["prompt"], tables, source, snapshot=req["snapshot"], n=n, rounds=1,
                               on_event=lambda e: docs.append(e["count"]) if e.get("event") == "docs" else None)
    t_end = time.perf_counter()
    decoded_end = source.started + source.decode_s
    return {
        "request_ms": (t_parsed - t0) * 1e3,
        "prompt_ms": (source.started - t_parsed) * 1e3,
        "decode_ms": source.decode_s * 1e3,
        "verify_ms": (t_end - decoded_end) * 1e3,
        "total_ms": (t_end - t0) * 1e3,
        "tokens": source.tokens,
        "docs": docs[0] if docs else 0,
        "verified": sum(c.report.ok for c in result.candidates),
    }


def decode_one(model, messages, new_tokens: int) -> tuple[float, int]:
    from ibert_jupyter.model.base import GenerationRequest

    t0 = time.perf_counter()
    out = model.generate(GenerationRequest(messages=messages, n=1, max_new_tokens=new_tokens))
    return (time.perf_counter() - t0) * 1e3, out[0].tokens


def verify_real_programs(snapshot: dict, n: int) -> float:
    """ms to verify ``n`` programs that compile (IbisBench TPC-H gold) against the unbound tables."""
    from ibert_jupyter.context import tables_from_snapshot
    from ibert_jupyter.evaluation.ibisbench.tasks import load_tasks
    from ibert_jupyter.verify import verify

    tables = tables_from_snapshot(snapshot)
    programs = [t.gold_code for t in load_tasks("ibisbench") if t.database == "tpch" and t.tier == "joins"][:n]
    t0 = time.perf_counter()
    reports = [verify(code, {k: tables[k] for k in tables}, dialect="duckdb") for code in programs]
    ms = (time.perf_counter() - t0) * 1e3
    if not all(r.ok for r in reports):
        raise RuntimeError("a gold program failed to verify against the snapshot's tables")
    return ms


def run(args) -> int:
    from ibert_jupyter.model.prompts import generation_messages

    if args.n < 1 or args.new_tokens < 1 or args.repeats < 1:
        print("error: --n, --new-tokens and --repeats must be at least 1", file=sys.stderr)
        return 2
    _log("loading the model")
    model, described = load_model(args)
    snapshot = kernel_snapshot()
    body = json.dumps({"prompt": REQUEST, "snapshot": snapshot, "n": args.n, "rounds": 1,
                       "max_new_tokens": args.new_tokens}).encode()
    _log("warm-up request (compiles the decode path on a GPU)")
    one_request(model, body, args.n, args.new_tokens)
    messages = generation_messages(REQUEST, snapshot)
    decode_one(model, messages, args.new_tokens)
    requests, singles = [], []
    for i in range(args.repeats):
        _log(f"timed request {i + 1}/{args.repeats}")
        requests.append(one_request(model, body, args.n, args.new_tokens))
        singles.append(decode_one(model, messages, args.new_tokens))
    verify_real_ms = statistics.median(verify_real_programs(snapshot, args.n) for _ in range(args.repeats))

    def med(key):
        return round(statistics.median(r[key] for r in requests), 2)

    stages = {k: med(f"{k}_ms") for k in ("request", "prompt", "decode", "verify")}
    total = med("total_ms")
    one_ms = round(statistics.median(s[0] for s in singles), 2)
    total_if_compiled = total - stages["verify"] + verify_real_ms
    result = {
        "benchmark": "e2e",
        "model": described,
        "device": args.device,
        "request": REQUEST,
        "n": args.n,
        "max_new_tokens": args.new_tokens,
        "stages_ms": stages,
        "total_ms": total,
        "decode_one_ms": one_ms,
        "ratio": round(total / one_ms, 3),
        "verify_share": round(stages["verify"] / total, 4),
        "verify_real_programs_ms": round(verify_real_ms, 2),
        "ratio_if_compiled": round(total_if_compiled / one_ms, 3),
        "verify_share_if_compiled": round(verify_real_ms / total_if_compiled, 4),
        "tokens_per_candidate": statistics.mean(t for r in requests for t in r["tokens"]),
        "tokens_decode_one": statistics.mean(s[1] for s in singles),
        "docs_in_prompt": requests[-1]["docs"],
        "targets": {"verify_share_max": 0.05, "ratio_max": 1.5},
        "note": "random weights: speed only; accuracy needs real Devstral weights",
    }
    result["met"] = {"verify_share": result["verify_share_if_compiled"] <= 0.05 and result["verify_share"] <= 0.05,
                     "ratio": result["ratio_if_compiled"] <= 1.5 and result["ratio"] <= 1.5}
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1))
    if not args.json:
        _log(f"total {total:.0f} ms = {result['ratio']}× one candidate's {one_ms:.0f} ms; stages {stages}")
    print(json.dumps(result))
    return 0
