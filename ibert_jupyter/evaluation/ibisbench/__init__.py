"""IbisBench: analysts' requests → Ibis programs, judged by executing them against gold results.

Tasks live in ``ibert_jupyter/evaluation/data/ibisbench/*.jsonl`` (built from the hand-written
``src/*.txt`` by ``build.py``, which runs every gold program through the verifier and DuckDB).
``harness.evaluate`` runs a model backend over a suite; ``report`` writes the JSON and HTML.
"""
