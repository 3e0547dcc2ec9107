"""``ibert index``: build the retrieval index of the installed Ibis (rebuilt when its version changes)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ibert_jupyter.retrieval import paths
from ibert_jupyter.retrieval.index.build import outdated_reason, read_manifest


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--force", action="store_true", help="rebuild even if an index for this Ibis exists")
    parser.add_argument("--graph", choices=["serena", "ast"], default="serena",
                        help="symbol graph from Serena/solidlsp+pyright (default) or from the AST only")
    parser.add_argument("--refresh-graph", action="store_true", help="recompute the cached symbol graph")
    parser.add_argument("--finetuned", type=Path, default=None,
                        help="also store vectors of this fine-tuned embedder (a sentence-transformers folder)")
    parser.add_argument("--modules", nargs="+", default=None,
                        help="glob patterns of ibis modules to index (relative to the ibis package)")
    parser.add_argument("--no-examples", action="store_true", help="leave out the TPC example programs")
    parser.add_argument("--json", action="store_true", help="print the build report as one JSON line")


def run(args: argparse.Namespace) -> int:
    from ibert_jupyter.retrieval.corpus import aliases
    from ibert_jupyter.retrieval.corpus.chunks import PUBLIC_MODULES
    from ibert_jupyter.retrieval.encode.dense import configured_model
    from ibert_jupyter.retrieval.encode.models import is_model_dir
    from ibert_jupyter.retrieval.index.build import build_index

    version = paths.ibis_version()
    manifest = read_manifest(paths.index_dir(version))
    try:
        configured_model()  # a bad $IBERT_EMBED_MODEL or glossary is named before anything is built
        aliases.load()
        reason = outdated_reason(manifest) if manifest is not None else None
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if reason is not None:
        print(f"index for ibis {version} is outdated ({reason}): rebuilding", file=sys.stderr)
    elif manifest is not None and not (args.force or args.refresh_graph or args.finetuned or args.modules):
        print(f"index for ibis {version} is up to date ({manifest['chunks']} chunks, graph: "
              f"{manifest['graph_source']}); use --force to rebuild", file=sys.stderr)
        if args.json:
            print(json.dumps({"rebuilt": False, **manifest}))
        return 0
    if args.finetuned is not None and not is_model_dir(args.finetuned):
        print(f"error: {args.finetuned} is not a sentence-transformers model folder", file=sys.stderr)
        return 2
    report = build_index(
        patterns=tuple(args.modules) if args.modules else PUBLIC_MODULES,
        examples=not args.no_examples,
        graph=args.graph,
        finetuned_model=args.finetuned,
        refresh_graph=args.refresh_graph,
    )
    print(f"indexed {report.chunks} chunks of ibis {report.ibis_version} in {report.seconds:.1f}s "
          f"(graph: {report.graph_source}) -> {report.index_dir}", file=sys.stderr)
    if report.graph_note:
        print(f"note: {report.graph_note}", file=sys.stderr)
    if args.json:
        print(json.dumps({"rebuilt": True, **report.to_dict()}))
    return 0
