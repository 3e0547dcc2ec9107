"""Where the index lives and which Ibis it describes.

The index is per Ibis version: a user who upgrades Ibis gets a fresh index instead of
answers about an API they no longer have.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
from pathlib import Path

DATA_DIR_ENV = "IBERT_DATA_DIR"
QDRANT_URL_ENV = "IBERT_QDRANT_URL"


def ibis_version() -> str:
    try:
        return importlib.metadata.version("ibis-framework")
    except importlib.metadata.PackageNotFoundError:
        import ibis

        return getattr(ibis, "__version__", "unknown")


def ibis_source_dir() -> Path:
    """Directory of the installed ``ibis`` package (found without importing it)."""
    import importlib.util

    spec = importlib.util.find_spec("ibis")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("ibis is not installed in this environment")
    return Path(list(spec.submodule_search_locations)[0])


def data_dir() -> Path:
    """iBERT's per-user data directory (``$IBERT_DATA_DIR`` overrides it)."""
    override = os.environ.get(DATA_DIR_ENV)
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("ibert", appauthor=False))


def slug(version: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", version)


def index_dir(version: str | None = None) -> Path:
    """Folder of the index for one Ibis version: Qdrant store, vocabulary, graph, manifest."""
    return data_dir() / "index" / f"ibis-{slug(version or ibis_version())}"


def models_dir() -> Path:
    return data_dir() / "models"


def finetuned_model_dir(version: str | None = None) -> Path:
    return models_dir() / f"minilm-ibis-{slug(version or ibis_version())}"


def qdrant_url() -> str | None:
    """Optional Qdrant server URL; embedded local mode when unset."""
    return os.environ.get(QDRANT_URL_ENV) or None
