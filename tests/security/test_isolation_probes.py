"""The second wall on its own: full-Python actions inside the verifier worker.

``escape_probe.attempt`` is passed to ``verify()`` as a trusted helper, so it runs in the
worker with the whole standard library, as candidate code that got past the AST allow-list
would. Each probe must be blocked by the OS isolation (namespaces, Landlock, seccomp,
limits), and the harm is checked from outside: marker files, the secret, the user's
catalogue, the parent process. Where this kernel lacks a mechanism, the pool says so in
``isolation["missing"]`` and the probes that need it are skipped with that reason.
"""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

import pytest

from ibert_jupyter.verify import verify
from ibert_jupyter.verify.escape_probe import attempt
from ibert_jupyter.verify.pool import default_pool

REPO = Path(__file__).resolve().parents[2]
PROBES = [
    # (id, action, target template, mechanism that must block it)
    ("write-marker", "write_file", "{mark}", "landlock"),
    ("append-secret", "append_file", "{secret}", "landlock"),
    ("write-tmp", "write_file", "/tmp/ibert-pwned-probe", "landlock"),
    ("read-secret", "read_file", "{secret}", "landlock"),
    ("read-runtime-json", "read_file", "{vault}/runtime.json", "landlock"),
    ("read-etc-passwd", "read_file", "/etc/passwd", "landlock"),
    ("read-project-file", "read_file", "{repo}/pyproject.toml", "landlock"),
    ("list-home", "listdir", "/root", "landlock"),
    ("list-vault", "listdir", "{vault}", "landlock"),
    ("mkdir", "mkdir", "{out}/pwned", "landlock"),
    ("remove-secret", "remove", "{secret}", "landlock"),
    ("symlink", "symlink", "{mark}", "landlock"),
    ("tcp-to-parent-listener", "tcp", "127.0.0.1:{port}", "namespaces"),
    ("unix-socket-to-parent", "unix", "{sock}", "seccomp"),
    ("signal-parent", "signal", "{pid}", "namespaces"),
    ("exec-shell", "exec", "{mark}", "seccomp"),
    ("fork", "fork", "", "seccomp"),
    ("read-parent-environ", "proc_environ", "{pid}", "namespaces"),
    ("raise-file-limit", "raise_limits", "", "process"),
    ("duckdb-copy-to-file", "duckdb_copy", "{mark}", "landlock"),
    ("duckdb-read-secret", "duckdb_read", "{secret}", "landlock"),
    ("ctypes-system", "ctypes_system", "{mark}", "seccomp"),
    ("unshare-namespaces", "unshare", "", "seccomp"),
    ("allocate-16-GiB", "memory", "", "process"),
]


@pytest.fixture(scope="module")
def listeners(world):
    """A TCP and a Unix socket in the parent: a worker that reaches either has network."""
    hits = []
    tcp = socket.create_server(("127.0.0.1", 0))
    unix_path = str(world.out.parent / "parent.sock")
    unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    unix.bind(unix_path)
    unix.listen()
    for server in (tcp, unix):
        server.settimeout(0.2)

    stop = threading.Event()

    def serve():
        while not stop.is_set():
            for server in (tcp, unix):
                try:
                    conn, _ = server.accept()
                    hits.append(conn.recv(16))
                    conn.close()
                except (TimeoutError, OSError):
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield {"port": tcp.getsockname()[1], "sock": unix_path, "hits": hits}
    stop.set()
    thread.join(2)
    tcp.close()
    unix.close()
    os.unlink(unix_path)


def _isolation():
    return default_pool().isolation.to_dict()


@pytest.mark.parametrize(("action", "target", "mechanism"), [p[1:] for p in PROBES], ids=[p[0] for p in PROBES])
def test_probe_is_blocked_by_the_os(world, listeners, action, target, mechanism):
    isolation = _isolation()
    applied = " ".join(isolation["applied"])
    if mechanism != "process" and mechanism not in applied:
        pytest.skip(f"{mechanism} not available here: {isolation['missing']}")
    filled = target.format(
        mark=world.out / "pwned", secret=world.secret_path, vault=world.vault, out=world.out,
        root=world.root, repo=REPO, pid=os.getpid(), port=listeners["port"], sock=listeners["sock"],
    )
    code = f"x = attempt({action!r}, {filled!r})\nt.mutate(outcome=ibis.literal(x))"
    before = world.capture()
    report = verify(code, world.tables, helpers={"attempt": attempt}, build_timeout_s=5)
    world.assert_unharmed(before, report, seconds=10)
    assert report.ok, report.summary()
    assert "'blocked: " in report.sql, f"{action} was not blocked: {report.sql[-200:]}"
    assert not listeners["hits"], "the worker reached a socket in the parent"


def test_the_worker_sees_a_scrubbed_environment(world):
    os.environ["IBERT_TEST_SECRET"] = world.secret_text
    try:
        default_pool().close()  # new workers, started while the secret is in our environment
        report = verify("x = attempt('environ', '')\nt.mutate(o=ibis.literal(x))", world.tables,
                        helpers={"attempt": attempt})
    finally:
        del os.environ["IBERT_TEST_SECRET"]
    assert report.ok and "DONE" in report.sql
    assert world.secret_text not in report.sql and "IBERT_TEST_SECRET" not in report.sql


def test_isolation_is_reported_and_names_what_is_missing():
    report = verify("t", {"t": __import__("ibis").table({"a": "int64"}, name="t")})
    isolation = report.isolation
    assert isolation["process"] is True
    assert any("python -I" in item for item in isolation["applied"])
    assert isinstance(isolation["missing"], list)
    assert isolation["limits"]["file_size_bytes"] == 0
    # on this project's CI machines every mechanism is present; elsewhere the reason is stated
    for mechanism in ("namespaces", "landlock", "seccomp"):
        assert any(mechanism in a for a in isolation["applied"]) or any(
            mechanism in m for m in isolation["missing"]
        )
