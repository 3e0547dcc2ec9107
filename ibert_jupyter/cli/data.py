"""``ibert data build``: the verified, decontaminated training dataset (last stdout line: JSON)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

JSON_KEYS = ("examples", "by_task", "by_source", "schemas", "rejected_by_stage", "verified_fraction",
             "contaminated", "examples_per_s", "wall_s")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="data_command", required=True)
    build = sub.add_parser("build", help="generate, verify, dedupe, decontaminate and split the training data")
    build.add_argument("--out", default="ibert-data", help="output folder (default: ./ibert-data)")
    build.add_argument("--size", default="default", help="tiny, small, default, large, or programs per schema")
    build.add_argument("--seed", type=int, default=0)
    build.add_argument("--tokenizer", help="a checkpoint's tekken.json (default: mistral-common's bundled Tekken file)")
    build.add_argument("--eval-dir", help="evaluation data folder to decontaminate against (default: the package's)")
    build.add_argument("--json", action="store_true", help="print the summary as one JSON line")
    build.add_argument("--no-progress", action="store_true")


def run(args: argparse.Namespace) -> int:
    from ibert_jupyter.training.data.build import SIZES, BuildConfig, build

    size = args.size
    if not (size in SIZES or str(size).isdigit()):
        print(f"ibert data build: unknown --size {size!r} (use {', '.join(SIZES)} or a number)", file=sys.stderr)
        return 2
    if args.tokenizer:
        from ibert_jupyter.training.data.tokens import ChatCounter

        try:
            ChatCounter(args.tokenizer)
        except Exception as exc:  # noqa: BLE001 - any unreadable tokenizer file is the user's input
            print(f"ibert data build: --tokenizer {args.tokenizer} is not a usable tekken.json ({type(exc).__name__}: {exc})", file=sys.stderr)
            return 2
    try:
        (Path(args.out) / ".work").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"ibert data build: cannot write to --out {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    cfg = BuildConfig(Path(args.out), seed=args.seed, size=int(size) if str(size).isdigit() else size,
                      tokenizer=args.tokenizer, eval_dir=Path(args.eval_dir) if args.eval_dir else None)
    stats = build(cfg, progress=not args.no_progress)
    summary = {k: stats[k] for k in JSON_KEYS}
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"{stats['examples']} examples in {cfg.out} ({stats['wall_s']} s): {stats['by_task']}")
    return 0
