"""%ibert_search in a real InteractiveShell and GET /ibert/search on a real jupyter server."""

from __future__ import annotations

import json

import pytest
import tornado.httpclient
from IPython.core.interactiveshell import InteractiveShell

pytestmark = pytest.mark.slow  # needs the session index

pytest_plugins = ["pytest_jupyter.jupyter_server"]


@pytest.fixture
def jp_server_config():
    return {"ServerApp": {"jpserver_extensions": {"ibert_jupyter": True}}}


@pytest.fixture
def shell():
    sh = InteractiveShell.instance()
    sh.run_cell("%load_ext ibert_jupyter", store_history=False)
    return sh


def test_magic_shows_ranked_symbols_with_links(small_index, shell):
    view = shell.run_line_magic("ibert_search", "-k 3 remove duplicate rows")
    assert view.error is None and len(view.hits) == 3
    assert "Table.distinct" in [h.public_name for h in view.hits]
    html = view._repr_html_()
    assert "Table.distinct" in html and 'class="ibert-source-link"' in html and 'data-ibert-path=' in html
    assert 'file://' not in html  # browsers refuse file links; sources open inside JupyterLab
    assert repr(view).startswith("1. ")


def test_magic_says_when_another_packages_words_found_a_symbol(small_index, shell):
    # pandas describes DataFrame.head as "Return the first n rows"; Ibis's own summary does not
    view = shell.run_line_magic("ibert_search", "-k 10 keep the first rows")
    head = next(h for h in view.hits if h.public_name == "Table.head")
    assert head.matched.startswith("pandas/DuckDB/Arrow function of the same name: Return the first n rows")
    assert "matched pandas/DuckDB/Arrow" in repr(view) and "matched pandas/DuckDB/Arrow" in view._repr_html_()
    assert any(not h.matched for h in view.hits)  # own words matched these
    assert all(h.matched.startswith(("pandas/DuckDB/Arrow", "DuckDB's SQL function", "iBERT's glossary")) for h in view.hits if h.matched)


def test_magic_says_when_the_glossary_found_a_symbol(small_index, shell):
    # no Ibis docstring says "concatenate" for a union; the glossary lists the phrase for Table.union
    view = shell.run_line_magic("ibert_search", "-k 5 concatenate tables vertically")
    union = next(h for h in view.hits if h.public_name == "Table.union")
    assert union.matched == "iBERT's glossary: concatenate tables vertically"
    assert "matched iBERT's glossary: concatenate tables vertically" in repr(view)


def test_magic_reports_a_missing_index(small_index, shell, monkeypatch):
    from ibert_jupyter.retrieval import paths

    monkeypatch.setattr(paths, "ibis_version", lambda: "0.0.missing")
    view = shell.run_line_magic("ibert_search", "filter rows")
    assert view.hits == [] and "ibert index" in view.error


async def test_search_route(small_index, jp_fetch):
    response = await jp_fetch("ibert", "search", params={"q": "rename columns", "k": "4"})
    body = json.loads(response.body)
    assert body["query"] == "rename columns" and len(body["hits"]) == 4
    assert "Table.rename" in [h["public_name"] for h in body["hits"]]
    assert body["hits"][0]["url"].startswith("file://")


async def test_search_route_rejects_bad_input(small_index, jp_fetch):
    with pytest.raises(tornado.httpclient.HTTPClientError) as err:
        await jp_fetch("ibert", "search", params={"q": ""})
    assert err.value.code == 400
    with pytest.raises(tornado.httpclient.HTTPClientError) as err:
        await jp_fetch("ibert", "search", params={"q": "x", "k": "many"})
    assert err.value.code == 400
