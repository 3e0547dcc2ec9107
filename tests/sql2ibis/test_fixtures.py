"""SQL → expected Ibis code, one case per block of ``fixtures/*.sql`` (sqlglot's fixture
style): the code must read exactly as written there, and return the SQL's rows.

Block format::

    -- title: what the case shows
    SELECT ...
    -- ibis:
    <expected code>
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ibert_jupyter.sql.transpile import sql_to_ibis
from ibert_jupyter.sql.transpile.checked import convert_and_check

FIXTURES = Path(__file__).with_name("fixtures")


def _cases() -> dict[str, tuple[str, str]]:
    cases = {}
    for path in sorted(FIXTURES.glob("*.sql")):
        for block in path.read_text().split("-- title: ")[1:]:
            title, rest = block.split("\n", 1)
            sql, code = rest.split("-- ibis:\n", 1)
            cases[f"{path.stem}: {title.strip()}"] = (sql.strip(), code.strip())
    return cases


CASES = _cases()


def test_fixture_file_is_not_empty():
    assert len(CASES) >= 10


@pytest.mark.parametrize("title", sorted(CASES))
def test_sql_reads_as_expected_code_and_matches(mixed_con, mixed_catalog, title):
    sql, expected = CASES[title]
    assert sql_to_ibis(sql, catalog=mixed_catalog).code == expected
    outcome = convert_and_check(sql, mixed_con, catalog=mixed_catalog, timeout_s=30)
    assert outcome.matched, f"{outcome.stage}: {outcome.message}"
