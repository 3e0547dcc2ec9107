"""Security-suite fixtures: what an attack could harm, captured before it runs and compared after.

Every security test asserts on the HARM, not only on the verdict: marker files that must not
appear, a secret that must not leak into any report, Ibis options and the user's DuckDB
catalogue that must not change, the parent's own CPU and memory, and how long the call took.
"""

from __future__ import annotations

import json
import os
import resource
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import ibis
import pytest

ROWS = 2000


def options_state() -> dict:
    return {
        "interactive": ibis.options.interactive,
        "default_backend": repr(ibis.options.default_backend),
        "default_limit": ibis.options.sql.default_limit,
        "default_dialect": ibis.options.sql.default_dialect,
        "to_sql": ibis.to_sql.__code__.co_filename,
        "table_filter": ibis.expr.types.Table.filter.__qualname__,
    }


def catalogue_state(con) -> dict:
    raw = con.con
    return {
        "tables": sorted(con.list_tables()),
        "functions": raw.execute("SELECT count(*) FROM duckdb_functions() WHERE NOT internal").fetchone()[0],
        "databases": sorted(r[0] for r in raw.execute("SELECT database_name FROM duckdb_databases()").fetchall()),
        "external_access": raw.execute("SELECT current_setting('enable_external_access')").fetchone()[0],
        "rows": raw.execute("SELECT count(*) FROM t").fetchone()[0],
    }


@dataclass
class World:
    """The things an attack might harm (one per test session, re-checked per attack)."""

    con: object
    root: Path
    vault: Path
    out: Path
    secret_path: Path
    secret_text: str
    tables: dict = field(default_factory=dict)

    def fill(self, template: str) -> str:
        return template.format(
            mark=self.out / "pwned", secret=self.secret_path, vault=self.vault, out=self.out,
            pid=os.getpid(),
        )

    def capture(self) -> dict:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "files": sorted(p.name for p in self.out.iterdir()),
            "vault": sorted(p.name for p in self.vault.iterdir()),
            "options": options_state(),
            "catalogue": catalogue_state(self.con),
            "environ": dict(os.environ),
            "cwd": os.getcwd(),
            "cpu": usage.ru_utime + usage.ru_stime,
            "maxrss_kb": usage.ru_maxrss,
            "wall": time.monotonic(),
        }

    def assert_unharmed(self, before: dict, report=None, *, seconds: float) -> None:
        after = self.capture()
        elapsed = after["wall"] - before["wall"]
        assert after["files"] == before["files"], f"files appeared: {after['files']}"
        assert after["vault"] == before["vault"], "the secret's folder changed"
        assert self.secret_path.read_text() == f"token\n{self.secret_text}\n"
        assert not list(Path("/tmp").glob("ibert-pwned*")), "a marker reached /tmp"
        assert after["options"] == before["options"], "ibis.options or Ibis itself changed"
        assert after["catalogue"] == before["catalogue"], "the user's DuckDB catalogue changed"
        assert after["environ"] == before["environ"] and after["cwd"] == before["cwd"]
        assert elapsed <= seconds, f"took {elapsed:.1f} s (budget {seconds} s): not stopped in time"
        cpu = after["cpu"] - before["cpu"]
        assert cpu <= 2 * seconds + 1.0, f"the parent itself burned {cpu:.1f} s of CPU"
        grown_mb = (after["maxrss_kb"] - before["maxrss_kb"]) / 1024
        assert grown_mb <= 1024, f"the parent's memory grew by {grown_mb:.0f} MB"
        if report is not None:
            text = json.dumps(report.to_dict(), default=str)
            assert self.secret_text not in text, "the secret leaked into the report"

    def canary(self) -> None:
        """The verifier still tells right from wrong after an attack (no poisoned worker)."""
        from ibert_jupyter.verify import verify

        good = verify("t.filter(t.a > 1).select('a')", self.tables, build_timeout_s=10)
        assert good.ok, good.summary()
        assert '"t0"."a" > 1' in good.sql
        bad = verify("t.nope", self.tables, build_timeout_s=10)
        assert not bad.ok and "nope" in bad.message


@pytest.fixture(scope="session")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("security")
    vault, out = root / "vault", root / "out"
    vault.mkdir()
    out.mkdir()
    secret_text = f"s3cret-{uuid.uuid4().hex}"
    secret_path = vault / "secret.csv"
    secret_path.write_text(f"token\n{secret_text}\n")
    (vault / "runtime.json").write_text(json.dumps({"token": secret_text}))
    con = ibis.duckdb.connect()
    con.raw_sql(
        f"CREATE TABLE t AS SELECT i::BIGINT AS a, 'name' || i AS s, DATE '2024-01-01' + i::INT AS d "
        f"FROM range({ROWS}) r(i)"
    )
    w = World(con=con, root=root, vault=vault, out=out, secret_path=secret_path, secret_text=secret_text)
    w.tables = {"t": con.table("t")}
    yield w
    con.disconnect()


