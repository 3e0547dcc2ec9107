"""The Qdrant collection: named dense vectors, a BM25 sparse vector and the chunk as payload.

Embedded local mode (``QdrantClient(path=...)``) by default, persistent in the index folder;
``IBERT_QDRANT_URL`` points it at a server instead. Local mode holds a file lock, so readers
copy the vectors into memory (``load_arrays``) and close the client right away: a kernel
searching never blocks ``ibert index`` running elsewhere.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ibert_jupyter.retrieval.corpus.chunks import Chunk

COLLECTION = "ibis_symbols"
DENSE, DENSE_FT, SPARSE = "dense", "dense_ft", "bm25"


def open_client(path: Path | None, url: str | None = None):
    from qdrant_client import QdrantClient

    if url:
        return QdrantClient(url=url)
    if path is None:
        raise ValueError("a Qdrant path or URL is needed")
    path.mkdir(parents=True, exist_ok=True)
    return QdrantClient(path=str(path))


def collection_name(version_slug: str, url: str | None) -> str:
    """A server is shared between Ibis versions, a local store is not."""
    return f"{COLLECTION}_{version_slug}" if url else COLLECTION


def write_collection(
    client,
    name: str,
    chunks: list[Chunk],
    dense: np.ndarray,
    sparse: list[tuple[list[int], list[float]]],
    dense_ft: np.ndarray | None = None,
    *,
    progress: bool = True,
    batch: int = 256,
) -> None:
    """(Re)create the collection and upload every chunk with its vectors."""
    from qdrant_client import models
    from tqdm import tqdm

    if not (len(chunks) == len(dense) == len(sparse)) or (dense_ft is not None and len(dense_ft) != len(chunks)):
        raise ValueError("chunks and vectors differ in length")
    vectors_config = {DENSE: models.VectorParams(size=int(dense.shape[1]), distance=models.Distance.COSINE)}
    if dense_ft is not None:
        vectors_config[DENSE_FT] = models.VectorParams(size=int(dense_ft.shape[1]), distance=models.Distance.COSINE)
    if client.collection_exists(name):
        client.delete_collection(name)
    client.create_collection(name, vectors_config=vectors_config,
                             sparse_vectors_config={SPARSE: models.SparseVectorParams()})
    bar = tqdm(total=len(chunks), desc="store", unit="chunk", file=sys.stderr, disable=not progress)
    for start in range(0, len(chunks), batch):
        points = []
        for i in range(start, min(start + batch, len(chunks))):
            vector = {DENSE: dense[i].tolist(), SPARSE: models.SparseVector(indices=sparse[i][0], values=sparse[i][1])}
            if dense_ft is not None:
                vector[DENSE_FT] = dense_ft[i].tolist()
            points.append(models.PointStruct(id=i, vector=vector, payload=chunks[i].to_payload()))
        client.upsert(name, points=points, wait=True)
        bar.update(len(points))
    bar.close()


@dataclass
class IndexArrays:
    """Everything a search needs, in memory: chunks, dense matrices, BM25 matrix (CSR)."""

    chunks: list[Chunk]
    dense: np.ndarray
    dense_ft: np.ndarray | None
    sparse: "object"  # scipy.sparse.csr_matrix, shape (n_chunks, vocab)


def load_arrays(client, name: str, vocab_size: int) -> IndexArrays:
    from scipy.sparse import csr_matrix

    if not client.collection_exists(name):
        raise LookupError(f"Qdrant collection {name!r} does not exist")
    points = []
    offset = None
    while True:
        page, offset = client.scroll(name, limit=1024, offset=offset, with_payload=True, with_vectors=True)
        points.extend(page)
        if offset is None:
            break
    points.sort(key=lambda p: int(p.id))
    chunks = [Chunk.from_payload(p.payload) for p in points]
    dense = np.asarray([p.vector[DENSE] for p in points], dtype=np.float32)
    has_ft = bool(points) and DENSE_FT in points[0].vector
    dense_ft = np.asarray([p.vector[DENSE_FT] for p in points], dtype=np.float32) if has_ft else None
    rows, cols, vals = [], [], []
    for row, p in enumerate(points):
        sv = p.vector[SPARSE]
        rows.extend([row] * len(sv.indices))
        cols.extend(sv.indices)
        vals.extend(sv.values)
    sparse = csr_matrix((np.asarray(vals, dtype=np.float32), (rows, cols)), shape=(len(points), vocab_size))
    return IndexArrays(chunks, dense, dense_ft, sparse.tocsc())
