"""Fixtures shared by the SQL→Ibis tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tpch_catalog(tpch_con):
    """Table name → Ibis schema of the TPC-H database, the converter's catalog."""
    return {name: tpch_con.get_schema(name) for name in tpch_con.list_tables()}
