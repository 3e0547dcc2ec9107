"""``ibert search QUERY``: the installed Ibis's symbols that answer a question, from the terminal."""

from __future__ import annotations

import argparse
import json
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ibert_jupyter.retrieval.rank.retriever import MODES

    parser.add_argument("query", nargs="+", help="what you want to do, in words")
    parser.add_argument("-k", type=int, default=5, help="number of symbols to show (default 5)")
    parser.add_argument("--mode", choices=MODES, default="hybrid_graph",
                        help="ranking: hybrid_graph (default, what chat and generation use) or one retriever alone")
    parser.add_argument("--json", action="store_true", help="print the hits as one JSON object")


def run(args: argparse.Namespace) -> int:
    from ibert_jupyter.retrieval import IndexUnavailable, hits_text

    query = " ".join(args.query).strip()
    if args.k < 1:
        print(f"error: -k must be at least 1, got {args.k}", file=sys.stderr)
        return 2
    if not query:
        print("error: the search query is empty", file=sys.stderr)
        return 2
    from ibert_jupyter.retrieval.rank.retriever import get_retriever

    try:
        hits = get_retriever().search(query, args.k, mode=args.mode)
    except IndexUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({"query": query, "mode": args.mode, "hits": [h.to_dict() for h in hits]}))
    else:
        print(hits_text(query, hits))
    return 0
