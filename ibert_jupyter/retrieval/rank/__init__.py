"""Stage 4 of retrieval: score a query against the index and rank symbols (hybrid + graph + views)."""
