"""Errors of the retrieval index."""

from __future__ import annotations

from ibert_jupyter.errors import Unavailable


class IndexUnavailable(Unavailable):
    """No index has been built for the installed Ibis; the message says how to build one."""
