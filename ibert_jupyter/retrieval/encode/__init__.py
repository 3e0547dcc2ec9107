"""Stage 2 of retrieval: turn text into vectors (dense sentence embeddings, BM25 sparse terms)."""
