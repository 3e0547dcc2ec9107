"""What the server extension owns while it runs: executors, limits, defaults, live requests.

The ``IbertServer`` app (``jupyter.server``) creates one ``IbertServices`` and closes it on
shutdown; it lives in the tornado settings and handlers reach it through
``IbertHandler.services``. Three executors, so one kind of work cannot starve another:
- ``gpu``: one thread, the model queue (loads, decoding) — one request at a time on one GPU;
- ``cpu``: retrieval, verification, building tables;
- ``snapshots``: a helper process that parses large request bodies (json.loads of a 50 MB
  snapshot holds the GIL for most of a second, which a thread cannot hide). It is a plain
  subprocess rather than multiprocessing, which would re-run the server's main script in it.
It also owns the process's verifier worker pool (``verify.pool``), sized by the app's config.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import uuid
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable

from ibert_jupyter.chat.snapshot import SnapshotBody, SnapshotBodyError
from ibert_jupyter.model.cancel import CancelToken
from ibert_jupyter.verify.pool import WorkerPool, replace_default_pool

SERVICES_KEY = "ibert_services"
MAX_N = 16
MAX_ROUNDS = 5


@dataclass(frozen=True)
class GenerationDefaults:
    """N and rounds used when a request leaves them out; changed by POST /ibert/model/config."""

    n: int = 4
    rounds: int = 2

    def __post_init__(self) -> None:
        for name, value, upper in (("n", self.n, MAX_N), ("rounds", self.rounds, MAX_ROUNDS)):
            if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= upper:
                raise ValueError(f"'{name}' must be an integer from 1 to {upper}, got {value!r}")


class ModelQueue:
    """The one-thread model executor, counting what waits in it."""

    def __init__(self) -> None:
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ibert-gpu")
        self.pending = 0

    async def run(self, fn: Callable, *args) -> Any:
        self.pending += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)
        finally:
            self.pending -= 1


class RunningRequests:
    """Cancel tokens of the requests in flight, by id.

    No per-user check: a Jupyter server serves one person (token clients even get a fresh
    anonymous user per request), and every caller already passed the "execute" authorization.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, CancelToken] = {}

    def open(self, request_id: str | None = None) -> tuple[str, CancelToken]:
        token = CancelToken()
        with self._lock:
            if request_id is None or request_id in self._tokens:
                request_id = uuid.uuid4().hex
            self._tokens[request_id] = token
        return request_id, token

    def close(self, request_id: str) -> None:
        with self._lock:
            self._tokens.pop(request_id, None)

    def cancel(self, request_id: str) -> bool:
        """True when a running request was cancelled by this call."""
        with self._lock:
            token = self._tokens.get(request_id)
        return token is not None and token.cancel()

    def cancel_all(self) -> int:
        """Cancel every running request (server shutdown); how many were running."""
        with self._lock:
            tokens = list(self._tokens.values())
        return sum(1 for token in tokens if token.cancel())

    def __len__(self) -> int:
        return len(self._tokens)


class SnapshotParser:
    """One long-lived helper process that parses spooled request bodies (``chat.snapshot.serve``)."""

    COMMAND = (sys.executable, "-c", "from ibert_jupyter.chat.snapshot import serve; serve()")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None

    def _process(self) -> subprocess.Popen:
        if self._proc is None or self._proc.poll() is not None:
            self._proc = subprocess.Popen(self.COMMAND, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                          stderr=subprocess.DEVNULL, close_fds=True, text=True)
        return self._proc

    def parse(self, path: str, fields: tuple[str, ...]) -> SnapshotBody:
        """Parse the body in ``path`` (blocking: call from a worker thread)."""
        with self._lock:
            for _ in range(2):  # a helper that died is restarted once
                proc = self._process()
                try:
                    proc.stdin.write(json.dumps({"path": path, "fields": list(fields)}) + "\n")
                    proc.stdin.flush()
                    line = proc.stdout.readline()
                except (BrokenPipeError, OSError):
                    line = ""
                if line:
                    reply = json.loads(line)
                    if "error" in reply:
                        raise SnapshotBodyError(reply["error"])
                    return SnapshotBody(reply["fields"], reply["snapshot"], reply["total_tables"])
                self.close()
        raise RuntimeError("the snapshot parser process keeps dying")

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()


@dataclass(frozen=True)
class Stopped:
    """What ``IbertServices.shutdown`` ended."""

    cancelled: int  # requests that were running
    pids: tuple[int, ...]  # helper and verifier processes that were alive


class IbertServices:
    """Executors, helper processes and request state of one running server extension."""

    def __init__(self, config: Any, verifiers: WorkerPool | None = None):
        """``config``: the IbertServer app (its traits); ``verifiers``: a pool someone else owns (and closes)
        instead of the server's own."""
        self.config = config
        self.gpu = ModelQueue()
        self.cpu: Executor = ThreadPoolExecutor(max_workers=max(1, config.cpu_workers), thread_name_prefix="ibert-cpu")
        self.snapshots = SnapshotParser()
        self.owns_verifiers = verifiers is None
        self.verifiers = WorkerPool(size=config.verifier_workers or None) if verifiers is None else verifiers
        replace_default_pool(self.verifiers)  # verify() everywhere in the server uses it
        self.requests = RunningRequests()
        self.latest_completion: CancelToken | None = None  # a newer completion cancels this one
        self.defaults = GenerationDefaults(config.default_n, config.default_rounds)

    def body_limit(self, kind: str) -> int:
        return self.config.max_snapshot_body_bytes if kind == "snapshot" else self.config.max_small_body_bytes

    def process_ids(self) -> tuple[int, ...]:
        """The helper and verifier processes this server owns, alive now."""
        parser = self.snapshots.pid
        owned = self.verifiers.process_ids() if self.owns_verifiers else ()
        return ((parser,) if parser is not None else ()) + owned

    def shutdown(self) -> Stopped:
        """Cancel running requests, stop the executors, kill every process, drop the model."""
        from ibert_jupyter.model import runtime

        cancelled = self.requests.cancel_all()
        pids = self.process_ids()
        self.cpu.shutdown(wait=False, cancel_futures=True)
        self.gpu.executor.shutdown(wait=False, cancel_futures=True)
        self.snapshots.close()
        if self.owns_verifiers:
            self.verifiers.close()
        replace_default_pool(None, only=self.verifiers)
        runtime.configure(None)  # the loaded model (and its accelerator memory) goes with the server
        return Stopped(cancelled, pids)
