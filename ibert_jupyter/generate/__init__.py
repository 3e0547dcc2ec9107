"""iBERT generate package."""
