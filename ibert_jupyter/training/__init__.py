"""iBERT training package."""
