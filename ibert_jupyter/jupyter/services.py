"""What the server extension owns while it runs: executors, limits, defaults, live requests.

One ``IbertServices`` lives in the tornado settings; handlers reach it through
``IbertHandler.services``. Three executors, so one kind of work cannot starve another:
- ``gpu``: one thread, the model queue (loads, decoding) — one request at a time on one GPU;
- ``cpu``: retrieval, verification, building tables;
- ``snapshots``: a helper process that parses large request bodies (json.loads of a 50 MB
  snapshot holds the GIL for most of a second, which a thread cannot hide).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
import uuid
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable

from traitlets import Int
from traitlets.config import Configurable

from ibert_jupyter.model.cancel import CancelToken

SERVICES_KEY = "ibert_services"
MAX_N = 16
MAX_ROUNDS = 5


class IbertServer(Configurable):
    """``c.IbertServer.*`` in jupyter_server_config.py: request limits and generation defaults."""

    max_snapshot_body_bytes = Int(64 * 2**20, config=True,
                                  help="largest body accepted by routes that carry a schema snapshot")
    max_small_body_bytes = Int(64 * 2**10, config=True, help="largest body of the other POST routes")
    process_parse_bytes = Int(512 * 2**10, config=True,
                              help="bodies larger than this are parsed in a helper process, off the GIL")
    cpu_workers = Int(2, config=True, help="threads for retrieval, verification and table building")
    default_n = Int(4, config=True, help="candidates per round when a request does not say")
    default_rounds = Int(2, config=True, help="generation rounds when a request does not say")


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
    """Cancel tokens of the requests in flight, by id, remembering who started each."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[str, CancelToken]] = {}

    def open(self, owner: str, request_id: str | None = None) -> tuple[str, CancelToken]:
        token = CancelToken()
        with self._lock:
            if request_id is None or request_id in self._tokens:
                request_id = uuid.uuid4().hex
            self._tokens[request_id] = (owner, token)
        return request_id, token

    def close(self, request_id: str) -> None:
        with self._lock:
            self._tokens.pop(request_id, None)

    def cancel(self, owner: str, request_id: str) -> bool:
        """True when a running request of ``owner`` was cancelled by this call."""
        with self._lock:
            entry = self._tokens.get(request_id)
        if entry is None or entry[0] != owner:
            return False
        return entry[1].cancel()

    def __len__(self) -> int:
        return len(self._tokens)


class IbertServices:
    def __init__(self, config: IbertServer):
        self.config = config
        self.gpu = ModelQueue()
        self.cpu: Executor = ThreadPoolExecutor(max_workers=max(1, config.cpu_workers), thread_name_prefix="ibert-cpu")
        self._snapshots: ProcessPoolExecutor | None = None
        self._snapshots_lock = threading.Lock()
        self.requests = RunningRequests()
        self.defaults = GenerationDefaults(config.default_n, config.default_rounds)

    def body_limit(self, kind: str) -> int:
        return self.config.max_snapshot_body_bytes if kind == "snapshot" else self.config.max_small_body_bytes

    @property
    def snapshots(self) -> ProcessPoolExecutor:
        """The helper process for big bodies, started on first use (spawned: no inherited state)."""
        with self._snapshots_lock:
            if self._snapshots is None:
                self._snapshots = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
            return self._snapshots

    def reset_snapshots(self) -> None:
        """Drop a helper process that died (the next big body starts a new one)."""
        with self._snapshots_lock:
            broken, self._snapshots = self._snapshots, None
        if broken is not None:
            broken.shutdown(wait=False, cancel_futures=True)

    def shutdown(self) -> None:
        self.cpu.shutdown(wait=False, cancel_futures=True)
        self.gpu.executor.shutdown(wait=False, cancel_futures=True)
        if self._snapshots is not None:
            self._snapshots.shutdown(wait=False, cancel_futures=True)
