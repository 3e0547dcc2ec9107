"""Index status for ``ibert status`` and /ibert/status: reads the manifest, never builds."""

from __future__ import annotations

from ibert_jupyter.retrieval import paths
from ibert_jupyter.retrieval.index.build import outdated_reason, read_manifest


def index_status() -> dict:
    """Whether an index exists for the installed Ibis, how it was built, and older ones left behind."""
    version = paths.ibis_version()
    index_dir = paths.index_dir(version)
    manifest = read_manifest(index_dir)
    root = index_dir.parent
    others = sorted(p.name for p in root.glob("ibis-*") if p != index_dir and (p / "manifest.json").exists()) \
        if root.exists() else []
    if manifest is None:
        return {"status": "missing", "ibis_version": version, "path": str(index_dir),
                "hint": "run `ibert index` to build it", "stale_indexes": others}
    graph_ok = manifest.get("graph_source") != "ast"
    try:
        reason = outdated_reason(manifest)
    except ValueError as exc:  # a bad $IBERT_EMBED_MODEL: the index still answers with the model it was built with
        reason = str(exc)
    return {
        "status": "outdated" if reason else "ready" if graph_ok else "degraded",
        **({"hint": f"{reason}; run `ibert index` to rebuild it"} if reason else {}),
        "ibis_version": version,
        "path": str(index_dir),
        "chunks": manifest.get("chunks"),
        "graph": manifest.get("graph_source"),
        "graph_note": manifest.get("graph_note") or None,
        "embed_model": manifest.get("embed_model") or "all-MiniLM-L6-v2 (bundled)",
        "finetuned": bool(manifest.get("finetuned_model")),
        "glossary_symbols": manifest.get("aliased_symbols", 0),  # symbols with aliases (retrieval/corpus/aliases.py)
        "qdrant": manifest.get("qdrant"),
        "built_at": manifest.get("built_at"),
        "build_seconds": manifest.get("build_seconds"),
        "stale_indexes": others,
    }
