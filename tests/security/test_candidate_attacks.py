"""Hostile candidate code against the verifier, checked for harm rather than for verdicts.

Classes from issue 16's red team and from the histories of RestrictedPython and pysandbox
escapes (format-string and generator-frame walks, builtins reached through bound methods,
class patterns in ``match``, monkeypatching the library, resource exhaustion in C loops),
plus DuckDB-specific ones (files named as tables, table functions, UDFs, size amplifiers).
Each attack runs through ``verify()`` exactly as a model's answer would; then
``World.assert_unharmed`` checks files, the secret, ``ibis.options``, the user's DuckDB
catalogue, the environment, elapsed time and the parent's CPU and memory, and ``canary``
checks the verifier still tells right from wrong.
"""

from __future__ import annotations

import pytest

from ibert_jupyter.verify import verify

BUILD = {"build_timeout_s": 0.5}
PREVIEW = {"preview": True, "preview_timeout_s": 1.0, "build_timeout_s": 2.0}

ATTACKS: list = []


def attack(name: str, code: str, **options) -> None:
    ATTACKS.append(pytest.param(code, options or dict(BUILD), id=name))


# -- match statements: class patterns fetch attributes by name ------------------------------
attack("match-get_backend-copy", "match t:\n    case ibis.expr.types.Table(get_backend=gb):\n        gb().raw_sql(\"COPY (SELECT 1) TO '{mark}'\")\nt")
attack("match-create-table", "match t:\n    case ibis.expr.types.Table(get_backend=gb):\n        gb().create_table('pwned', t)\nt")
attack("match-options", "match ibis:\n    case object(options=o):\n        o.interactive = True\nt")
attack("match-dunder-class", "match t:\n    case object(__class__=c):\n        x = c\nt")
attack("match-print-self-open", "match print:\n    case object(__self__=b):\n        b.open('{mark}', 'w').write('x')\nt")
attack("match-deferred-resolver", "match ibis._:\n    case object(get_backend=g):\n        g()\nt")
attack("match-sequence-execute", "match [t]:\n    case [ibis.expr.types.Table(execute=ex)]:\n        ex()\nt")
attack("match-mapping-to_csv", "match {{'k': t}}:\n    case {{'k': object(to_csv=w)}}:\n        w('{mark}')\nt")

# -- the user's backend: raw SQL, writes, new tables -----------------------------------------
attack("get_backend-raw_sql-copy", "t.get_backend().raw_sql(\"COPY (SELECT 1) TO '{mark}'\")\nt")
attack("default-backend-copy", "ibis.get_backend().raw_sql(\"COPY (SELECT 1) TO '{mark}'\")\nt")
attack("private-find_backend", "t._find_backend().con.execute(\"COPY (SELECT 1) TO '{mark}'\")\nt")
attack("op-source-create", "t.op().source.con.execute('CREATE TABLE pwned AS SELECT 1')\nt")
attack("new-duckdb-connection", "ibis.duckdb.connect().raw_sql(\"COPY (SELECT 1) TO '{mark}'\")\nt")
attack("connect-url-creates-file", "ibis.connect('duckdb://{mark}')\nt")
attack("to_csv", "t.to_csv('{mark}')\nt")
attack("to_parquet", "t.to_parquet('{mark}')\nt")
attack("create_table", "ibis.get_backend().create_table('pwned', t)\nt")
attack("cache-creates-table", "t.cache()")
attack("set_backend-file", "ibis.set_backend('duckdb://{mark}')\nt")
attack("table-sql-copy", "t.alias('pwned').sql(\"COPY (SELECT 1) TO '{mark}'\")")
attack("execute", "t.execute()")

# -- files named as tables, table functions, paths (previewed) -------------------------------
attack("table-named-secret-path", "ibis.table({{'token': 'string'}}, name='{secret}')", **PREVIEW)
attack("table-named-quoted-path", "ibis.table({{'token': 'string'}}, name=\"'{secret}'\")", **PREVIEW)
attack("glob-joined-to-bound", "s = ibis.table({{'token': 'string'}}, name='{vault}/*')\nt.cross_join(s)", **PREVIEW)
attack("glob-json-runtime-dir", "s = ibis.table({{'token': 'string'}}, name='{vault}/*.json')\nt.cross_join(s).limit(3)", **PREVIEW)
attack("table-named-read_csv-call", "ibis.table({{'token': 'string'}}, name=\"read_csv('{secret}')\")", **PREVIEW)
attack("database-qualified-path", "ibis.table({{'a': 'int64'}}, name='t', database='{vault}')", **PREVIEW)
attack("catalog-qualified-path", "ibis.table({{'a': 'int64'}}, name='secret', database='vault', catalog='{vault}')", **PREVIEW)
attack("parse_sql-read_csv", "ibis.parse_sql(\"SELECT * FROM read_csv('{secret}')\", {{}})", **PREVIEW)
attack("join-secret-table", "t.join(ibis.table({{'a': 'int64', 'token': 'string'}}, name='{secret}'), 'a')", **PREVIEW)
attack("union-secret-table", "t.union(ibis.table(t.schema(), name='{secret}'))", **PREVIEW)
attack("read_csv", "ibis.read_csv('{secret}')", **PREVIEW)
attack("read_parquet", "ibis.read_parquet('{vault}/*.parquet')", **PREVIEW)
attack("memtable-join-glob-name", "ibis.memtable({{'a': [1]}}).join(ibis.table({{'a': 'int64'}}, name='glob(\"{vault}/*\")'), 'a')", **PREVIEW)
attack("interactive-then-path-table", "ibis.options.interactive = True\nibis.table({{'token': 'string'}}, name='{secret}')", **PREVIEW)
attack("same-name-other-columns", "ibis.table({{'token': 'string'}}, name='t')", **PREVIEW)

# -- UDFs and functions that touch files, settings, secrets (previewed) ----------------------
attack("python-udf", "@ibis.udf.scalar.python\ndef f(x: str) -> str:\n    return x\nt.mutate(y=f(t.s))", **PREVIEW)
attack("pyarrow-udf", "@ibis.udf.scalar.pyarrow\ndef f(x: str) -> str:\n    return x\nt.mutate(y=f(t.s))", **PREVIEW)
attack("builtin-udf-getenv", "@ibis.udf.scalar.builtin\ndef getenv(x: str) -> str:\n    ...\nt.mutate(y=getenv('HOME'))", **PREVIEW)
attack("builtin-udf-current_setting", "@ibis.udf.scalar.builtin(name='current_setting')\ndef cs(x: str) -> str:\n    ...\nt.mutate(y=cs('home_directory'))", **PREVIEW)
attack("builtin-udf-read_blob", "@ibis.udf.scalar.builtin\ndef read_blob(x: str) -> str:\n    ...\nt.mutate(y=read_blob('{secret}'))", **PREVIEW)
attack("builtin-udf-duckdb_secrets", "@ibis.udf.scalar.builtin\ndef duckdb_secrets() -> str:\n    ...\nt.mutate(y=duckdb_secrets())", **PREVIEW)
attack("builtin-udf-read_text-agg", "@ibis.udf.agg.builtin\ndef read_text(x: str) -> str:\n    ...\nt.agg(y=read_text(t.s))", **PREVIEW)
attack("builtin-udf-query", "@ibis.udf.scalar.builtin\ndef query(x: str) -> str:\n    ...\nt.mutate(y=query(\"COPY (SELECT 1) TO '{mark}'\"))", **PREVIEW)

# -- Ibis options, global state, monkeypatching ----------------------------------------------
attack("options-interactive", "ibis.options.interactive = True\nt")
attack("options-default_limit", "ibis.options.sql.default_limit = 1\nt")
attack("setattr-options", "setattr(ibis.options, 'interactive', True)\nt")
attack("set_backend-object", "ibis.set_backend(ibis.duckdb.connect())\nt")
attack("options-default_backend", "ibis.options.default_backend = None\nt")
attack("patch-to_sql", "ibis.to_sql = lambda *a, **k: 'SELECT 1'\nt")
attack("patch-Table-filter", "ibis.expr.types.Table.filter = None\nt")
attack("patch-via-alias", "x = ibis.expr.types\nx.Table.select = 1\nt")
attack("patch-column-add", "t.a.__class__.__add__ = None\nt")
attack("proxy-walk-to-os", "ibis.expr.types.relations.os.system('touch {mark}')\nt")
attack("proxy-walk-to-sys", "ibis.common.exceptions.sys.modules['os'].system('touch {mark}')\nt")
attack("proxy-walk-to-Path", "ibis.expr.types.relations.Path('{mark}').write_text('x')\nt")

# -- builtins, reflection, imports (RestrictedPython / pysandbox history) -------------------
attack("__import__-os", "__import__('os').system('touch {mark}')")
attack("eval-import", "eval(\"__import__('os').system('touch {mark}')\")")
attack("exec-open", "exec(\"open('{mark}','w')\")\nt")
attack("open-write", "open('{mark}', 'w').write('x')\nt")
attack("open-read-secret", "open('{secret}').read()")
attack("getattr-get_backend", "getattr(t, 'get_backend')().raw_sql('select 1')\nt")
attack("init-globals-builtins", "t.__class__.__init__.__globals__['__builtins__']['open']('{mark}','w')\nt")
attack("subclasses-walk", "().__class__.__base__.__subclasses__()")
attack("format-string-walk", "'{{0.__class__.__init__.__globals__}}'.format(t)")
attack("format_map-walk", "'{{0.__class__}}'.format_map([t])\nt")
attack("fstring-dunder", "f'{{t.__class__}}'\nt")
attack("print-self-open", "print.__self__.open('{mark}', 'w')\nt")
attack("fullwidth-eval", "\uff45val(\"open('{mark}', 'w')\")\nt")
attack("mro-comprehension", "x = [c for c in ().__class__.__mro__]\nt")
attack("lambda-code", "(lambda: 0).__code__\nt")
attack("generator-frame", "g = (i for i in [1])\ng.gi_frame.f_back.f_globals\nt")
attack("import-os", "import os\nos.system('touch {mark}')\nt")
attack("from-ibis-util-os", "from ibis.util import os\nos.system('touch {mark}')\nt")
attack("import-duckdb-backend", "import ibis.backends.duckdb as d\nd.Backend().do_connect()\nt")
attack("import-relations-builtins", "import ibis.expr.types.relations as r\nr.__builtins__\nt")
attack("import-importlib", "import importlib\nimportlib.import_module('os').system('touch {mark}')\nt")
attack("deferred-dunder-item", "t.select(ibis._['__class__'])")
attack("deferred-get_backend", "t.select(ibis._.get_backend)")
attack("type-call", "type(t).get_backend(t)")
attack("vars-ibis", "vars(ibis)['get_backend']()")
attack("module-dict", "ibis.__dict__['get_backend']()")
attack("reduce-ex", "t.__reduce_ex__(2)")
attack("help", "help()\nt")
attack("breakpoint", "breakpoint()\nt")
attack("input", "input()\nt")
attack("class-def-metaclass", "class X(type):\n    pass\nt")
attack("exception-traceback-frame", "e = ValueError()\ne.__traceback__.tb_frame.f_globals\nt")
attack("str-join-dunder", "n = '_' * 2 + 'class' + '_' * 2\nt.select(ibis._[n])")
attack("isinstance-self", "isinstance.__self__.__import__('os')\nt")
attack("global-builtins-name", "__builtins__['open']('{mark}', 'w')\nt")
attack("with-open", "with open('{mark}', 'w') as f:\n    pass\nt")
attack("del-table", "del t\nt")
attack("try-swallow", "try:\n    open('{mark}', 'w')\nexcept Exception:\n    pass\nt")

# -- denial of service in build, type-check and SQL stages -----------------------------------
attack("size-in-variable", "n = 10**10\nx = 'a' * n\nt")
attack("list-range-1e9", "list(range(10**9))\nt")
attack("c-level-sum", "sum(range(10**12))\nt")
attack("c-level-max", "max(range(10**12))\nt")
attack("c-level-any", "any(i < 0 for i in range(10**12))\nt")
attack("list-doubling", "x = [0]\nfor i in range(64):\n    x = x + x\nt")
attack("python-loop", "x = 0\nfor i in range(10**10):\n    x = x + 1\nt")
attack("recursion", "def f(n):\n    return f(n + 1)\nf(0)\nt")
attack("big-memtable", "ibis.memtable({{'a': list(range(10**8))}})")
attack("expression-doubling-sql", "e = t.a\nfor i in range(60):\n    e = e + e\nt.mutate(b=e)")
attack("expression-doubling-filter", "e = t.a > 0\nfor i in range(60):\n    e = e & e\nt.filter(e)")
attack("sorted-huge", "sorted(range(10**9), reverse=True)\nt")
attack("dict-comprehension-huge", "x = {{i: i for i in range(10**9)}}\nt")
attack("string-squared", "x = 'ab' * (10**5)\ny = x * (10**5)\nt")
attack("nested-comprehension", "x = [[0] * 1000] * 1000\ny = [sum(r) for r in x for _ in range(10**6)]\nt")

# -- denial of service in the preview ---------------------------------------------------------
attack("preview-repeat-column", "t.mutate(x=t.s.repeat(2**30))", **PREVIEW)
attack("preview-repeat-literal", "t.mutate(x=ibis.literal('a').repeat(10**9))", **PREVIEW)
attack("preview-repeat-computed", "t.mutate(x=ibis.literal('ab').repeat(t.a * 10**8))", **PREVIEW)
attack("preview-lpad-huge", "t.mutate(x=t.s.lpad(10**9, 'x'))", **PREVIEW)
attack("preview-group-concat-amplified", "t.group_by('s').agg(x=t.s.repeat(10**6).group_concat())", **PREVIEW)
attack("preview-cross-join-explosion", "u = t.select(x=t.a)\nv = t.select(y=t.a)\nw = t.select(z=t.a)\nq = t.select(q=t.a)\nu.cross_join(v).cross_join(w).cross_join(q).agg(n=ibis._.x.count())", **PREVIEW)
attack("preview-range-array", "t.mutate(r=ibis.range(0, 10**10))", **PREVIEW)
attack("preview-unnest-range", "t.mutate(r=ibis.range(0, t.a * 10**9)).unnest('r')", **PREVIEW)

# -- SQL injection through literals and identifiers (previewed) ------------------------------
attack("literal-injection", "t.filter(t.s == \"x'; COPY (SELECT 1) TO '{mark}'; --\")", **PREVIEW)
attack("column-name-injection", "t.mutate(**{{\"q\\\"; COPY (SELECT 1) TO '{mark}'; --\": t.a}})", **PREVIEW)
attack("rename-injection", "t.rename({{\"x\\\" FROM t; COPY (SELECT 1) TO '{mark}'; --\": 'a'}})", **PREVIEW)
attack("like-injection", "t.filter(t.s.like(\"%'); ATTACH '{mark}' AS x; --\"))", **PREVIEW)


def test_the_suite_is_large_enough():
    assert len(ATTACKS) >= 100


@pytest.mark.parametrize(("template", "options"), ATTACKS)
def test_attack_does_no_harm(world, template, options):
    code = world.fill(template)
    budget = options.get("build_timeout_s", 0.5) + options.get("preview_timeout_s", 0.0) + 4.0
    before = world.capture()
    report = verify(code, world.tables, **options)
    world.assert_unharmed(before, report, seconds=budget)
    if report.ok and report.preview is not None:
        assert len(report.preview) <= 10
    world.canary()


def test_the_harm_checks_catch_real_harm(world):
    """The checks above can fail: the same harms done directly (trusted, outside the
    verifier) are each caught."""
    import ibis

    before = world.capture()
    world.con.raw_sql(f"COPY (SELECT 1) TO '{world.out / 'pwned'}'")
    with pytest.raises(AssertionError, match="files appeared"):
        world.assert_unharmed(before, seconds=60)
    (world.out / "pwned").unlink()

    before = world.capture()
    world.con.raw_sql("CREATE TABLE pwned AS SELECT 1 AS x")
    with pytest.raises(AssertionError, match="catalogue changed"):
        world.assert_unharmed(before, seconds=60)
    world.con.raw_sql("DROP TABLE pwned")

    before = world.capture()
    ibis.options.interactive = True
    try:
        with pytest.raises(AssertionError, match="options"):
            world.assert_unharmed(before, seconds=60)
    finally:
        ibis.options.interactive = False

    before = world.capture()
    leaked = verify(f"t.mutate(x=ibis.literal({world.secret_text!r}))", world.tables)
    with pytest.raises(AssertionError, match="secret leaked"):
        world.assert_unharmed(before, leaked, seconds=60)


def test_users_interactive_mode_does_not_make_build_read_files(world):
    """With ``ibis.options.interactive = True`` in the user's kernel, building an expression
    used to execute it; the worker's Ibis has its own options and no backend."""
    import ibis

    ibis.options.interactive = True
    try:
        before = world.capture()
        code = world.fill("x = ibis.table({{'token': 'string'}}, name='{secret}')\nprint(x)\nx")
        report = verify(code, world.tables, preview=True, preview_timeout_s=1.0)
        world.assert_unharmed(before, report, seconds=6)
        assert not report.ok and report.stage == "preview"
    finally:
        ibis.options.interactive = False
