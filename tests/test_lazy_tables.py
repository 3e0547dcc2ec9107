"""Lazy name -> "module:attribute" tables (ibert_jupyter.registry): reading one loads nothing it names."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ibert_jupyter.registry import load

HEAVY = ("torch", "transformers", "httpx", "ibert_jupyter.model.local", "ibert_jupyter.model.openai_compat",
         "ibert_jupyter.model.runtime")


@pytest.mark.parametrize(("module", "names"), [
    ("ibert_jupyter.model.config", ["local", "openai"]),
    ("ibert_jupyter.evaluation.ibisbench.backends", ["gold", "local", "openai", "replay", "scripted"]),
])
def test_importing_a_backend_table_imports_no_backend(module, names):
    code = (f"import sys; from {module} import BACKENDS; "
            f"print(sorted(BACKENDS), [m for m in {HEAVY!r} if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == f"{names} []"


def test_entries_resolve_dotted_attributes_and_unknown_names_list_the_known_ones():
    table = {"join": "os.path:join", "sep": "os:sep"}
    assert load(table, "join", "thing")("a", "b") == "a/b"
    with pytest.raises(ValueError, match=r"unknown thing 'nope'; known: join, sep"):
        load(table, "nope", "thing")
    with pytest.raises(ValueError, match=r"unknown thing None; known: join, sep"):
        load(table, None, "thing")
    assert load({"f": "os.path:join.__name__"}, "f", "thing") == "join"
