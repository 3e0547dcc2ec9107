"""The ``ibert`` command: demo, bench, convert, index, search, status, train, eval, data.

An adapter over the core, like ``jupyter/``: each subcommand is one module of this package
(``ibert_jupyter.cli.<command>``) exposing ``add_arguments(parser)`` and ``run(args) -> int``;
the ``ibert bench`` modules live in ``evaluation/``. This file only wires them together, and
imports a command's module only when that command runs.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

# name -> (module, help). Modules are imported only when their command runs.
COMMANDS: dict[str, tuple[str, str]] = {
    "convert": ("ibert_jupyter.cli.convert", "convert SQL (file or stdin) to idiomatic Ibis Python"),
    "demo": ("ibert_jupyter.cli.demo", "build the TPC-H demo database and notebook, start JupyterLab"),
    "status": ("ibert_jupyter.cli.status", "show versions, model and index status"),
    "index": ("ibert_jupyter.cli.index", "build the retrieval index of the installed Ibis"),
    "search": ("ibert_jupyter.cli.search", "the installed Ibis's symbols that answer a question"),
    "train": ("ibert_jupyter.cli.train", "train iBERT's LoRA adapter: runs training_notebooks/train_adapter.ipynb with papermill"),
    "eval": ("ibert_jupyter.cli.eval", "score a model, endpoint, replay file or the gold programs on IbisBench"),
    "data": ("ibert_jupyter.cli.data", "build the verified, decontaminated training dataset (`ibert data build`)"),
}

# `ibert bench NAME`: name -> (module, help)
BENCHMARKS: dict[str, tuple[str, str]] = {
    "sql2ibis": ("ibert_jupyter.evaluation.bench_sql2ibis", "SQL→Ibis conversion on TPC-H/TPC-DS/ClickBench, checked by execution vs ibis.parse_sql"),
    "retrieval": ("ibert_jupyter.evaluation.bench_retrieval", "Recall@5/MRR/nDCG@10 of BM25, dense, hybrid, +graph, fine-tuned"),
    "verify": ("ibert_jupyter.evaluation.bench_verify", "verifier latency on the TPC-H reference queries vs ibis alone"),
    "repair": ("ibert_jupyter.evaluation.bench_repair", "repair of real users' broken cells (dev/test) and of errors injected into TPC-H references, fixes result-compared"),
    "decode": ("ibert_jupyter.evaluation.bench_decode", "Devstral-shaped decode tok/s vs the memory-bandwidth bound (GPU)"),
    "train": ("ibert_jupyter.evaluation.bench_train", "LoRA/QLoRA training tok/s, memory and max length vs transformers + peft (GPU)"),
    "e2e": ("ibert_jupyter.evaluation.bench_e2e", "one generation request through the server path, per stage, vs decoding one candidate"),
}


def _add_module_command(subparsers, name: str, module: str, help_text: str, load: bool) -> None:
    """Add a subcommand; its module (and heavy imports) load only when it is the one chosen."""
    parser = subparsers.add_parser(name, help=help_text, description=help_text)
    if load:
        mod = importlib.import_module(module)
        mod.add_arguments(parser)
        parser.set_defaults(_run=mod.run)


def build_parser(argv: list[str] | tuple[str, ...] = ()) -> argparse.ArgumentParser:
    chosen = set(argv)
    parser = argparse.ArgumentParser(prog="ibert", description="iBERT: verified Ibis assistance")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (module, help_text) in COMMANDS.items():
        _add_module_command(sub, name, module, help_text, name in chosen)
    bench = sub.add_parser("bench", help="run a benchmark (last output line is one JSON object)")
    bench_sub = bench.add_subparsers(dest="benchmark", required=True)
    for name, (module, help_text) in BENCHMARKS.items():
        _add_module_command(bench_sub, name, module, help_text, "bench" in chosen and name in chosen)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(argv).parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `ibert search ... | head`: the reader left; say nothing more
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - replaces the closed stream until exit
        return 141
