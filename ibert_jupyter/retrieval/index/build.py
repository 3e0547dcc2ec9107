"""Build the index for the installed Ibis: corpus → graph → BM25 + dense vectors → Qdrant (+ view vectors).

The manifest is written last, so an interrupted build never looks complete. The symbol
graph is cached per Ibis version and module set, because pyright is the slow part.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from ibert_jupyter.retrieval import paths
from ibert_jupyter.retrieval.corpus.chunks import PUBLIC_MODULES, build_corpus
from ibert_jupyter.retrieval.corpus.graph import SymbolGraph, build_graph
from ibert_jupyter.retrieval.encode.sparse import BM25Encoder

MANIFEST = "manifest.json"
FORMAT_VERSION = 4  # 2: SQL-function and peer-method views; 3: overload stubs skipped, docstring sections not
# prose; 4: glossary (alias) views
GRAPH_CACHE_VERSION = 1  # the cached solidlsp output outlives index format changes that do not touch it


@dataclass(frozen=True)
class BuildReport:
    index_dir: str
    ibis_version: str
    chunks: int
    graph_source: str
    graph_note: str
    seconds: float
    timings: dict
    finetuned: bool

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def read_manifest(index_dir: Path) -> dict | None:
    try:
        return json.loads((index_dir / MANIFEST).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def outdated_reason(manifest: dict) -> str | None:
    """Why an index must be rebuilt (an older iBERT wrote it, another embedder is configured, the glossary
    changed); None if current."""
    from ibert_jupyter.retrieval.corpus import aliases
    from ibert_jupyter.retrieval.encode.dense import MODEL_ENV, configured_model

    if manifest.get("format") != FORMAT_VERSION:
        return f"it has index format {manifest.get('format')}, this iBERT writes {FORMAT_VERSION}"
    if manifest.get("aliases") != aliases.fingerprint():
        return "the glossary of aliases (retrieval/corpus/data/aliases.json) changed since it was built"
    built, wanted = manifest.get("embed_model"), configured_model()
    if built != wanted:
        return (f"it was embedded with {built or 'the bundled all-MiniLM-L6-v2'}, "
                f"${MODEL_ENV} now names {wanted or 'none (the bundled all-MiniLM-L6-v2)'}")
    return None


def is_outdated(manifest: dict) -> bool:
    """Rebuild it: see ``outdated_reason``."""
    return outdated_reason(manifest) is not None


def _graph(chunks, patterns, graph: str, refresh: bool, version: str) -> SymbolGraph:
    """The symbol graph; solidlsp's raw output is cached per Ibis version and module set."""
    key = hashlib.sha1(json.dumps([list(patterns), GRAPH_CACHE_VERSION]).encode()).hexdigest()[:10]
    raw_cache = paths.data_dir() / "graph-cache" / f"solidlsp-ibis-{version}-{key}.json"
    if refresh and raw_cache.exists():
        raw_cache.unlink()
    return build_graph(chunks, paths.ibis_source_dir(), work_dir=paths.data_dir() / "tmp", prefer=graph,
                       raw_cache=raw_cache)


def build_index(
    *,
    patterns: tuple[str, ...] = PUBLIC_MODULES,
    examples: bool = True,
    graph: str = "serena",
    finetuned_model: Path | None = None,
    index_dir: Path | None = None,
    refresh_graph: bool = False,
    progress: bool = True,
) -> BuildReport:
    """Build (or rebuild) the index of the installed Ibis; returns what was built and how long it took."""
    from ibert_jupyter.retrieval.encode import dense
    from ibert_jupyter.retrieval.index import store

    if graph not in ("serena", "ast"):
        raise ValueError(f"graph must be 'serena' or 'ast', not {graph!r}")
    version = paths.ibis_version()
    index_dir = index_dir or paths.index_dir(version)
    model = dense.configured_model()  # None: the bundled all-MiniLM-L6-v2
    t0 = time.perf_counter()
    timings: dict[str, float] = {}

    def lap(name: str, since: float) -> float:
        now = time.perf_counter()
        timings[name] = round(now - since, 2)
        if progress:
            print(f"[ibert index] {name}: {timings[name]:.1f}s", file=sys.stderr)
        return now

    chunks = build_corpus(patterns, examples=examples)
    t = lap("corpus", t0)
    symbol_graph = _graph(chunks, patterns, graph, refresh_graph, paths.slug(version))
    t = lap("graph", t)
    bm25 = BM25Encoder.fit([c.sparse_text() for c in chunks])
    sparse = [bm25.encode_document(c.sparse_text()) for c in chunks]
    t = lap("bm25", t)
    texts = [c.dense_text() for c in chunks]
    dense_vectors = dense.encode(texts, model, progress=progress)
    t = lap("dense", t)
    ft_vectors = None
    if finetuned_model is not None:
        ft_vectors = dense.encode(texts, str(finetuned_model), progress=progress)
        t = lap("dense_finetuned", t)
    from ibert_jupyter.retrieval.index.views import FILE as VIEWS_FILE
    from ibert_jupyter.retrieval.index.views import ViewIndex

    from ibert_jupyter.retrieval.corpus import aliases
    from ibert_jupyter.retrieval.corpus.peer_docs import peer_descriptions
    from ibert_jupyter.retrieval.corpus.sql_functions import symbol_functions

    sql = symbol_functions(chunks, paths.ibis_source_dir())
    phrases, glossary_hash = aliases.read()
    glossary = aliases.symbol_aliases([c.id for c in chunks], phrases)
    views = ViewIndex.build(chunks, model, progress=progress, sql=sql, peers=peer_descriptions(chunks),
                            aliases=glossary)  # not fine-tuned
    t = lap("views", t)
    # export the ONNX query encoder now, so the first query after a build is fast
    from ibert_jupyter.retrieval.encode import query_encoder

    for query_model in (model, *([str(finetuned_model)] if finetuned_model is not None else [])):
        try:
            query_encoder.prepare(query_model, quiet=not progress)
        except query_encoder.UnsupportedEncoder as exc:  # its queries go through sentence-transformers
            if progress:
                print(f"[ibert index] no fast query encoder: {exc}", file=sys.stderr)
    t = lap("query_encoder", t)

    if (index_dir / MANIFEST).exists():
        (index_dir / MANIFEST).unlink()
    index_dir.mkdir(parents=True, exist_ok=True)
    url = paths.qdrant_url()
    name = store.collection_name(paths.slug(version), url)
    qdrant_path = index_dir / "qdrant"
    if not url and qdrant_path.exists():
        shutil.rmtree(qdrant_path)
    client = store.open_client(qdrant_path, url)
    try:
        store.write_collection(client, name, chunks, dense_vectors, sparse, ft_vectors, progress=progress)
    finally:
        client.close()
    bm25.save(index_dir / "bm25.json")
    symbol_graph.save(index_dir / "graph.json")
    views.save(index_dir / VIEWS_FILE)
    t = lap("store", t)
    seconds = round(time.perf_counter() - t0, 2)
    manifest = {
        "format": FORMAT_VERSION,
        "ibis_version": version,
        "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "chunks": len(chunks),
        "symbols": sum(c.kind != "example" for c in chunks),
        "examples": sum(c.kind == "example" for c in chunks),
        "modules": list(patterns),
        "graph_source": symbol_graph.source,
        "graph_note": symbol_graph.note,
        "graph_edges": len(symbol_graph.edges),
        "embed_model": model,
        "aliases": glossary_hash,
        "aliased_symbols": len(glossary),
        "finetuned_model": str(finetuned_model) if finetuned_model else None,
        "qdrant": {"url": url, "path": None if url else str(qdrant_path), "collection": name},
        "build_seconds": seconds,
        "timings": timings,
    }
    (index_dir / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return BuildReport(str(index_dir), version, len(chunks), symbol_graph.source, symbol_graph.note, seconds,
                       timings, finetuned_model is not None)
