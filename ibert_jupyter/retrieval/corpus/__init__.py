"""Stage 1 of retrieval: read the installed Ibis into symbol chunks, their docs, aliases and call graph."""
