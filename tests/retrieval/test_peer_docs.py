"""Peer-method views: Ibis methods linked to the same-named pandas / DuckDB relational-API methods."""

from __future__ import annotations

import pytest

from ibert_jupyter.retrieval.corpus.chunks import build_corpus
from ibert_jupyter.retrieval.corpus.peer_docs import key, method_table, numpydoc_description, peer_descriptions, role


@pytest.fixture(scope="module")
def linked():
    chunks = build_corpus(("expr/types/generic.py", "expr/types/relations.py", "expr/types/arrays.py"),
                          examples=False)
    peers = peer_descriptions(chunks)
    return {c.public_name: peers[c.id] for c in chunks if c.id in peers}


def test_table_and_column_methods_get_their_peers_words(linked):
    assert any("subset of columns" in d for d in linked["Table.select"])  # pandas DataFrame.select
    assert any("set union" in d for d in linked["Table.union"])  # DuckDBPyRelation.union
    assert any("most often" in d for d in linked["Column.mode"])  # pandas Series.mode
    assert any("value of that row" in d for d in linked["Column.argmax"])  # DuckDB's arg_max: underscores ignored


def test_classes_with_their_own_semantics_get_no_peers(linked):
    # ArrayValue.filter filters elements; DataFrame.filter and the relation's filter do not
    assert not any(name.startswith("ArrayValue.") for name in linked)


def test_key_and_role():
    assert key("arg_max") == key("argmax") == "argmax"
    chunk = build_corpus(("expr/types/relations.py",), examples=False)
    roles = {c.public_name: role(c) for c in chunk}
    assert roles["Table.filter"] == "table"
    assert all(r is None for n, r in roles.items() if not n.startswith("Table."))


class Documented:
    def plain(self):
        """Do the plain thing.

        It is plain on purpose.

        Parameters
        ----------
        x
            ignored
        """

    def alias(self):
        """Documented.alias is an alias for Documented.plain."""

    def _private(self):
        """Never listed."""

    @property
    def size(self):
        """How many there are."""


def test_method_table_reads_summaries_and_skips_aliases_and_private_names():
    table = method_table(Documented, numpydoc_description)
    assert table == {"plain": ["Do the plain thing.", "It is plain on purpose."], "size": ["How many there are."]}


def test_pyarrow_compute_kernels_are_column_and_string_peers():
    from ibert_jupyter.retrieval.corpus.peer_docs import compute_tables

    tables = compute_tables()
    assert any("most common" in d for d in tables["column"]["mode"])  # pyarrow.compute.mode
    assert tables["column"]["isin"] and tables["column"]["isnull"]  # is_in, is_null
    assert "lower" in tables["string"] and "lower" not in tables["column"]  # utf8_lower only
    assert not any(k.startswith("hash") for k in tables["column"])  # grouped twins skipped
