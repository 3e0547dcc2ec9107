"""iBERT evaluation package."""
