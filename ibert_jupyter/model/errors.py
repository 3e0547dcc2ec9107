"""Errors of the model runtime that every caller must handle."""

from __future__ import annotations

from ibert_jupyter.errors import Unavailable


class ModelUnavailable(Unavailable):
    """Devstral (or the configured endpoint) cannot be used; the message says how to fix it.

    Callers catch this and keep every non-LLM feature working.
    """
