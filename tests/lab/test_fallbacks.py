"""What saved notebooks and other frontends show: text fallbacks, words not emoji, readable types."""

from __future__ import annotations

from pathlib import Path

import ibis
import pytest

from ibert_jupyter.jupyter.actions import read_installed_source
from ibert_jupyter.jupyter.magics_generate import unbang
from ibert_jupyter.jupyter.magics_search import source_link
from ibert_jupyter.jupyter.widget_display import widget_bundle


def test_widget_bundle_carries_readable_text_and_html_beside_the_live_view():
    import ipywidgets as w

    box = w.VBox([w.HTML("<b>iBERT</b>"), w.Button(description="Accept")])
    bundle = widget_bundle(box, "✓ Verified against orders", "<div>✓ Verified against orders</div>")
    assert bundle["text/plain"] == "✓ Verified against orders"
    assert bundle["text/html"].startswith("<div>")
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == box.model_id
    assert "VBox(" not in bundle["text/plain"]


def test_types_read_without_ibis_not_null_bang():
    assert unbang("total: !decimal(15, 2), name: string") == "total: decimal(15, 2) (not null), name: string"
    assert unbang("o_orderkey: !int64") == "o_orderkey: int64 (not null)"
    assert unbang("a != b") == "a != b"


def test_search_links_carry_path_and_line_for_the_extension_not_file_urls():
    html = source_link("/site-packages/ibis/expr/types/relations.py", 120, "relations.py:120")
    assert "file://" not in html and "href" not in html
    assert 'class="ibert-source-link"' in html
    assert 'data-ibert-path="/site-packages/ibis/expr/types/relations.py"' in html and 'data-ibert-line="120"' in html
    assert ">relations.py:120</a>" in html


def test_source_viewer_reads_installed_modules_only(tmp_path):
    ibis_file = Path(ibis.__file__)
    assert read_installed_source(str(ibis_file)) == ibis_file.read_text(encoding="utf-8")
    outside = tmp_path / "secret.py"
    outside.write_text("TOKEN = 1")
    with pytest.raises(ValueError, match="not inside an installed package"):
        read_installed_source(str(outside))
    with pytest.raises(ValueError, match="only Python source files"):
        read_installed_source(str(ibis_file.with_name("py.typed")))


def test_sql_portability_and_from_sql_say_their_state_in_words():
    from ibert_jupyter.jupyter.magics_from_sql import FromSqlResult
    from ibert_jupyter.jupyter.magics_sql import SqlView
    from ibert_jupyter.sql import portability_report

    t = ibis.table({"a": "int64"}, name="t")
    view = SqlView("duckdb", "SELECT 1", portability_report(t.a.sum()))
    html = view._repr_html_()
    assert "✓ compiles" in html and "✅" not in html and "❌" not in html
    ok = FromSqlResult("t.a.sum()", "verified: same rows as the SQL on duckdb", True)
    bad = FromSqlResult(None, "NOT verified (build): boom", False)
    assert ok._repr_html_().count("✓") == 1 and "✅" not in ok._repr_html_()
    assert repr(bad).startswith("✗ NOT verified") and "⚠" not in bad._repr_html_()
