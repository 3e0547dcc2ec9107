"""``python -m ibert_jupyter.retrieval.tuning``: fit and cross-check the ranking weights (``weights.main``)."""

from ibert_jupyter.retrieval.tuning.weights import main

main()
