"""iBERT: an assistant for Ibis users that verifies code against live tables before showing it.

The package root stays import-light: the Jupyter hooks below import their adapters lazily
so the core (``context``, ``verify``, ``sql``, ``repair``, ``retrieval``, ``model``,
``generate``) can be used without Jupyter installed.
"""

from __future__ import annotations

__version__ = "0.1.0"


def load_ipython_extension(ipython):
    """``%load_ext ibert_jupyter`` registers every iBERT magic."""
    from ibert_jupyter.jupyter.magics import register_magics

    register_magics(ipython)


def unload_ipython_extension(ipython):  # pragma: no cover - IPython has no unregister API
    pass


def _jupyter_server_extension_points():
    from ibert_jupyter.jupyter.server import IbertServer

    return [{"module": "ibert_jupyter.jupyter.server", "app": IbertServer}]


def _jupyter_labextension_paths():
    return [{"src": "labextension_static", "dest": "ibert-jupyter"}]
