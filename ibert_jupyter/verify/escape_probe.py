"""Harmful actions with full Python, to prove the worker's OS isolation holds on its own.

The AST allow-list is only the first wall. To test the second one as if the first had
fallen, the security tests pass ``attempt`` to ``verify()`` as a trusted helper: it then
runs inside the verifier worker with the whole standard library, exactly like candidate
code that escaped the allow-list would. Each action reports ``"blocked: ..."`` or
``"DONE: ..."``; the tests check the harm from outside too (files, tables, processes).
Never passed as a helper outside tests and ``ibert bench verify``'s isolation check.
"""

from __future__ import annotations


def attempt(action: str, target: str = "") -> str:
    """Try ``action`` on ``target``; returns what happened, never raises."""
    try:
        return "DONE: " + str(_ACTIONS[action](target))[:200]
    except BaseException as exc:  # noqa: BLE001 - the outcome is the point
        return f"blocked: {type(exc).__name__}: {exc}"[:300]


def _write_file(path):
    with open(path, "w") as handle:
        handle.write("pwned")
    return path


def _append_file(path):
    with open(path, "a") as handle:
        handle.write("pwned")
    return path


def _read_file(path):
    with open(path) as handle:
        return handle.read()


def _listdir(path):
    import os

    return os.listdir(path)


def _mkdir(path):
    import os

    os.mkdir(path)
    return path


def _remove(path):
    import os

    os.remove(path)
    return path


def _symlink(path):
    import os

    os.symlink("/etc/passwd", path)
    return path


def _tcp(target):
    import socket

    host, _, port = target.rpartition(":")
    with socket.create_connection((host or "127.0.0.1", int(port)), timeout=1) as sock:
        sock.sendall(b"pwned")
    return target


def _unix(path):
    import socket

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(path)
        sock.sendall(b"pwned")
    return path


def _signal(pid):
    import os

    os.kill(int(pid), 0)  # signal 0: only asks whether we *could* signal it
    return pid


def _exec(path):
    import subprocess

    return subprocess.run(["/bin/sh", "-c", f"echo pwned > {path}"], check=True)


def _fork(_):
    import os

    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    return pid


def _environ(_):
    import os

    return dict(os.environ)


def _proc_environ(pid):
    with open(f"/proc/{pid}/environ", "rb") as handle:
        return handle.read()


def _raise_limits(_):
    import resource

    resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    return "raised"


def _duckdb_copy(path):
    import duckdb

    con = duckdb.connect()
    con.execute(f"COPY (SELECT 'pwned') TO '{path}'")
    return path


def _duckdb_read(path):
    import duckdb

    return duckdb.connect().execute(f"SELECT * FROM read_csv('{path}', header=false)").fetchall()


def _ctypes_system(path):
    import ctypes

    status = ctypes.CDLL(None).system(f"echo pwned > {path}".encode())
    if status != 0:
        raise OSError(f"system() failed with status {status}")
    return status


def _unshare(_):
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(0x10000000 | 0x40000000) != 0:  # CLONE_NEWUSER | CLONE_NEWNET
        raise OSError(ctypes.get_errno(), "unshare refused")
    return "unshared"


def _memory(_):
    block = bytearray(16 * 2**30)
    return len(block)


_ACTIONS = {
    "write_file": _write_file, "append_file": _append_file, "read_file": _read_file,
    "listdir": _listdir, "mkdir": _mkdir, "remove": _remove, "symlink": _symlink,
    "tcp": _tcp, "unix": _unix, "signal": _signal, "exec": _exec, "fork": _fork,
    "environ": _environ, "proc_environ": _proc_environ, "raise_limits": _raise_limits,
    "duckdb_copy": _duckdb_copy, "duckdb_read": _duckdb_read, "ctypes_system": _ctypes_system,
    "unshare": _unshare, "memory": _memory,
}
