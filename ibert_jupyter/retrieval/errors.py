"""Errors of the retrieval index."""

from __future__ import annotations


class IndexUnavailable(RuntimeError):
    """No index has been built for the installed Ibis; the message says how to build one."""
