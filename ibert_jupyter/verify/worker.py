"""Verifier worker process: runs candidate code, warm, locked down, and disposable.

The pool starts it under ``python -I`` with a scrubbed environment in a temporary directory
and fresh namespaces. It imports Ibis once, then locks itself down before reading any
candidate: Landlock (no writes anywhere, reads only Python's own files, no TCP, no signals
outside), seccomp (no sockets, exec, fork, ptrace, mounts...), and resource limits (memory,
file size 0, no new processes, a CPU budget per candidate). Candidates run on *unbound*
tables built from the schema snapshot: no backend, no data, no user objects. A Python-level
alarm stops ordinary loops; the pool kills the whole worker at its wall-clock deadline (for
C-level loops) and replaces it after any limit hit or crash.

Protocol with the pool (stdin/stdout of the worker, moved to private descriptors): each
message is a 4-byte big-endian length then UTF-8 JSON; a request may be answered by
``{"stage": ...}`` progress messages before its result.
"""

from __future__ import annotations

import json
import os
import resource
import select
import signal
import struct
import sys
import time
from collections import OrderedDict
from typing import Any

MAX_MESSAGE_BYTES = 256 * 2**20  # requests: snapshots can be large
MAX_ANSWER_BYTES = 16 * 2**20  # answers: a report, read by the trusted side
SNAPSHOT_CACHE = 16


def read_message(fd: int, deadline: float | None = None, max_bytes: int = MAX_MESSAGE_BYTES) -> Any:
    """Read one length-prefixed JSON message; None at end of file."""
    header = _read_exact(fd, 4, deadline)
    if header is None:
        return None
    (size,) = struct.unpack(">I", header)
    if size > max_bytes:
        raise ValueError(f"message of {size} bytes exceeds {max_bytes}")
    body = _read_exact(fd, size, deadline)
    if body is None:
        raise EOFError("truncated message")
    return json.loads(body)


def write_message(fd: int, message: Any) -> None:
    data = json.dumps(message, default=str).encode()
    payload = struct.pack(">I", len(data)) + data
    view = memoryview(payload)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _read_exact(fd: int, size: int, deadline: float | None) -> bytes | None:
    chunks, remaining = [], size
    while remaining:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise TimeoutError("no answer before the deadline")
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            if remaining == size:
                return None
            raise EOFError("truncated message")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


# ---------------------------------------------------------------- inside the worker

class _Worker:
    def __init__(self, inbox: int, outbox: int, limits):
        self.inbox, self.outbox, self.limits = inbox, outbox, limits
        self.snapshots: OrderedDict[str, dict] = OrderedDict()
        self.helpers: dict[str, Any] = {}

    def tables_for(self, key: str, snapshot: list[dict] | None) -> dict | None:
        import ibis

        if key in self.snapshots:
            self.snapshots.move_to_end(key)
            return self.snapshots[key]
        if snapshot is None:
            return None
        tables = {}
        for entry in snapshot:
            schema = ibis.schema([(c[0], c[1]) for c in entry["columns"]])
            tables[entry["variable"]] = ibis.table(
                schema, name=entry["name"], database=entry.get("database"),
                catalog=entry.get("catalog"),
            )
        self.snapshots[key] = tables
        while len(self.snapshots) > SNAPSHOT_CACHE:
            self.snapshots.popitem(last=False)
        return tables

    def helper(self, spec: dict) -> Any:
        """Trusted helpers cross as data or as an importable reference, never as objects."""
        if "value" in spec:
            return spec["value"]
        ref = spec["ref"]
        if ref not in self.helpers:
            import importlib

            module_name, _, qualname = ref.partition(":")
            module = importlib.import_module(module_name)
            parts = qualname.split(".<locals>.")
            value = module
            for attr in parts[0].split("."):
                value = getattr(value, attr)
            if len(parts) == 2:  # a closure returned by a no-argument factory's mapping
                value = value()[parts[1]]
            self.helpers[ref] = value
        return self.helpers[ref]

    def serve(self) -> None:
        while True:
            request = read_message(self.inbox)
            if request is None:
                return
            write_message(self.outbox, self.handle(request))

    def handle(self, request: dict) -> dict:
        if request.get("op") == "ping":
            return {"id": request.get("id"), "pong": True}
        try:
            tables = self.tables_for(request["snapshot_key"], request.get("snapshot"))
            if tables is None:
                return {"id": request["id"], "need_snapshot": True}
            helpers = {name: self.helper(spec) for name, spec in request.get("helpers", {}).items()}
        except Exception as exc:  # noqa: BLE001 - trusted input was malformed: say so
            return {"id": request["id"], "input_error": f"{type(exc).__name__}: {exc}"}
        result = self.run_candidate(request, tables, helpers)
        return {"id": request["id"], "result": result}

    def run_candidate(self, request: dict, tables: dict, helpers: dict) -> dict:
        """Run one candidate here, under a CPU limit and a Python-level alarm.

        C-level loops ignore the alarm; the pool's wall-clock kill covers those.
        """
        from ibert_jupyter.verify.candidate import run_candidate
        from ibert_jupyter.verify.sandbox import CandidateTimeout

        timeout_s = float(request["timeout_s"])
        usage = resource.getrusage(resource.RUSAGE_SELF)
        used = int(usage.ru_utime + usage.ru_stime)
        soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
        budget = used + int(timeout_s + 0.999) + self.limits.cpu_over_deadline_s
        resource.setrlimit(resource.RLIMIT_CPU, (budget, hard))
        stage = ["parse"]

        def on_stage(name: str) -> None:
            stage[0] = name
            write_message(self.outbox, {"stage": name})

        def alarm(signum, frame):
            raise CandidateTimeout(f"candidate ran longer than {timeout_s:g} s and was stopped")

        provided = request.get("provided")
        previous = signal.signal(signal.SIGALRM, alarm)
        signal.setitimer(signal.ITIMER_REAL, timeout_s)
        try:
            result = run_candidate(
                request["code"], tables, dialect=request["dialect"], helpers=helpers,
                provided=None if provided is None else frozenset(provided), on_stage=on_stage,
            )
        except CandidateTimeout as exc:
            result = {"ok": False, "error_type": "CandidateTimeout", "message": str(exc),
                      "limit_hit": "wall-clock"}
        except MemoryError:
            result = {"ok": False, "error_type": "MemoryError",
                      "message": "the candidate exceeded its memory limit", "limit_hit": "memory"}
        except RecursionError:
            result = {"ok": False, "error_type": "RecursionError",
                      "message": "the candidate recursed too deeply", "limit_hit": "recursion"}
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
        kind = result.get("error_type")
        if kind in ("CandidateTimeout", "MemoryError") and not result.get("limit_hit"):
            result["limit_hit"] = "wall-clock" if kind == "CandidateTimeout" else "memory"
        result.setdefault("stage", stage[0])
        return result


def _lock_down(package_root: str) -> list[str]:
    """Landlock + seccomp for the worker itself; returns what was applied or why not."""
    from ibert_jupyter.verify.isolation import apply_landlock, apply_seccomp

    notes = []
    readable = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    readable |= {os.path.realpath(p) for p in sys.path if p and os.path.isdir(p) and p != package_root}
    readable.add(os.path.realpath(os.path.join(package_root, "ibert_jupyter")))
    readable.discard(os.path.realpath(package_root))
    readable |= {p for p in ("/usr/share/zoneinfo",) if os.path.isdir(p)}
    try:
        notes.append(apply_landlock(sorted(readable), [os.path.realpath(package_root)]))
    except OSError as exc:
        notes.append(f"!landlock: {exc.strerror or exc}")
    try:
        notes.append(apply_seccomp(child=True))
    except OSError as exc:
        notes.append(f"!seccomp: {exc.strerror or exc}")
    return notes


def _address_space() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def main(package_root: str, limits_json: str = "{}") -> None:
    """Entry point (``python -I -c``): warm up, lock down, then serve requests."""
    from ibert_jupyter.verify.isolation import Limits, set_limit

    limits = Limits(**json.loads(limits_json))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
    for which, value in ((resource.RLIMIT_CORE, 0), (resource.RLIMIT_FSIZE, limits.file_size_bytes),
                         (resource.RLIMIT_NOFILE, limits.open_files)):
        set_limit(which, value)
    inbox, outbox = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):  # candidate print() and stray output never reach the protocol
        os.dup2(devnull, fd)
    os.close(devnull)
    for fd in (inbox, outbox):
        os.set_inheritable(fd, False)
    import ibis  # noqa: F401 - warm imports before the filesystem closes
    import ibis.selectors  # noqa: F401

    from ibert_jupyter.verify import candidate  # noqa: F401

    for dialect in ("duckdb",):
        ibis.to_sql(ibis.table({"a": "int64"}, name="warm").filter(ibis._.a > 1), dialect=dialect)
    set_limit(resource.RLIMIT_AS, _address_space() + limits.memory_over_warm_bytes)
    set_limit(resource.RLIMIT_NPROC, limits.processes)  # seccomp refuses new processes too
    notes = _lock_down(package_root)
    write_message(outbox, {"ready": True, "pid": os.getpid(), "isolation": notes})
    worker = _Worker(inbox, outbox, limits)
    worker.serve()


BOOTSTRAP = (
    # `-I` drops PYTHONPATH: the parent's import path comes as argv[3], so the worker imports the
    # same ibis and ibert_jupyter as the kernel or server (e.g. packages reached via PYTHONPATH)
    "import sys, json; sys.path[:0] = [sys.argv[1]] + [p for p in json.loads(sys.argv[3]) if p not in sys.path]; "
    "from ibert_jupyter.verify.worker import main; main(sys.argv[1], sys.argv[2])"
)
