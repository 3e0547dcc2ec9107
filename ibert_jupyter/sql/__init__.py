"""iBERT sql package."""
