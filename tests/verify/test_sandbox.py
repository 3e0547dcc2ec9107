"""Known sandbox-escape attempts must all be rejected with an error naming the construct."""

from __future__ import annotations

import ibis
import pytest

from ibert_jupyter.verify import verify


@pytest.fixture(scope="module")
def tables():
    return {"t": ibis.table({"a": "int64", "s": "string"}, name="t")}


# (attack, a fragment the error message must contain)
ESCAPES = [
    ("import os\nt", "import of 'os'"),
    ("import subprocess\nt", "import of 'subprocess'"),
    ("from os import system\nt", "import from 'os'"),
    ("import ibis.backends.duckdb\nt", "import of 'ibis.backends.duckdb'"),
    ("from ibis.util import os\nt", "import from 'ibis.util'"),
    ("from . import x\nt", "relative imports"),
    ("__import__('os').system('id')", "'__import__'"),
    ("eval('1+1')", "'eval'"),
    ("exec('x=1')\nt", "'exec'"),
    ("open('/etc/passwd').read()", "'open'"),
    ("getattr(t, 'a')", "'getattr'"),
    ("globals()['x']", "'globals'"),
    ("t.__class__.__mro__", "dunder attribute '.__class__'"),
    ("(lambda: 0).__globals__", "dunder attribute '.__globals__'"),
    ("().__class__.__bases__[0].__subclasses__()", "dunder attribute"),
    ("t._find_backend()", "private attribute '._find_backend'"),
    ("ibis.read_csv('/etc/passwd')", "'.read_csv' is not allowed"),
    ("t.to_parquet('/tmp/x.parquet')", "'.to_parquet' is not allowed"),
    ("t.execute()", "'.execute' is not allowed"),
    ("t.to_pandas()", "'.to_pandas' is not allowed"),
    ("ibis.duckdb.connect()", "'.duckdb' is not allowed"),
    ("ibis.connect('duckdb://x.db')", "'.connect' is not allowed"),
    ("t.sql('select * from read_csv(\"/etc/passwd\")')", "'.sql' is not allowed"),
    ("t.op().source.raw_sql('select 1')", "'.op' is not allowed"),
    ("'{0.__class__}'.format(t)", "'.format' is not allowed"),
    ("g = (x for x in [1])\ng.gi_frame.f_globals", "'.gi_frame' is not allowed"),
    ("class X: pass\nt", "class definitions"),
    ("while True:\n    pass\nt", "'while' loops"),
    ("try:\n    t\nexcept Exception:\n    pass\nt", "'try' blocks"),
    ("with open('x') as f:\n    pass\nt", "'with' blocks"),
    ("def f():\n    global t\n    return t\nf()", "'global' statements"),
    ("def f():\n    yield 1\nt", "generators"),
    ("x = 'a' * 10**12\nt", "too large to multiply"),
    ("x = 2**100000\nt", "exponent 100000 is too large"),
    ("x = [0] * 100000000\nt", "too large to multiply"),
    ("vars(t)", "'vars'"),
    ("type(t)", "'type'"),
    ("ibis.options.sql.default_limit", "'.options' is not allowed"),
    ("t.cache()", "'.cache' is not allowed"),
    ("breakpoint()", "'breakpoint'"),
    ("x = '__class__'\nt", "dunder attributes"),
]


@pytest.mark.parametrize(("attack", "fragment"), ESCAPES, ids=[a.split("\n")[0][:40] for a, _ in ESCAPES])
def test_escape_is_rejected_with_a_named_construct(tables, attack, fragment):
    report = verify(attack, tables)
    assert not report.ok
    assert report.stage == "sandbox", report.summary()
    assert report.error_type == "SandboxError"
    assert fragment in report.message
    assert report.line is not None and report.line >= 1


def test_at_least_25_escapes_are_covered():
    assert len(ESCAPES) >= 25


def test_violation_reports_its_line(tables):
    report = verify("x = t.a + 1\ny = 2\nimport os\nt", tables)
    assert (report.line, report.stage) == (3, "sandbox")


def test_runtime_module_walk_is_blocked(tables):
    """Static checks can't see where module attributes lead; the module proxy can."""
    report = verify("ibis.expr.types.relations.Path", tables)
    assert not report.ok
    assert report.stage == "build"
    assert "not available in candidates" in report.message


def test_timeout_stops_a_runaway_candidate(tables):
    code = "x = 0\nfor i in range(10**8):\n    x = x + i\nt"
    report = verify(code, tables, build_timeout_s=0.3)
    assert not report.ok
    assert report.error_type == "CandidateTimeout"


@pytest.mark.parametrize(
    "code",
    [
        "import ibis\nimport ibis.selectors as s\nt.select(s.numeric())",
        "from ibis import _\nt.filter(_.a > 1).group_by('s').agg(n=_.a.sum())",
        "import ibis.expr.datatypes as dt\nt.mutate(b=t.a.cast(dt.float64))",
        "f = lambda r: r.a * 2\nt.mutate(b=f)",
        "def top(rel, n):\n    return rel.order_by(ibis.desc('a')).limit(n)\ntop(t, 3)",
        "t.mutate(c=ibis.cases((t.a > 1, 'big'), else_='small'))",
    ],
)
def test_ordinary_ibis_code_is_allowed(tables, code):
    report = verify(code, tables)
    assert report.ok, report.summary()
