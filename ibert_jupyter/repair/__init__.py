"""iBERT repair package."""
