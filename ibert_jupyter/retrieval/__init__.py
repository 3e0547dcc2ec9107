"""Retrieval over the installed Ibis: symbol chunks, hybrid vectors, Qdrant."""
