"""A pool of warm verifier workers, shared by every caller in the process.

Starting a worker costs an interpreter and an Ibis import (about a second), so workers are
kept warm and reused; each keeps the unbound tables of recent snapshots, and the pool sends
a request to a worker that already holds its snapshot when one is free. A worker that stops
answering in time, crashes, or breaks the protocol is killed (its whole process group and
namespace) and replaced. Thread-safe: the Jupyter server verifies on worker threads.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ibert_jupyter.errors import IbertError, Unavailable
from ibert_jupyter.verify.isolation import Isolation, Limits, namespace_prefix
from ibert_jupyter.verify.worker import BOOTSTRAP, MAX_ANSWER_BYTES, read_message, write_message

STARTUP_TIMEOUT_S = 60.0
KILL_GRACE_S = 0.5  # after its own alarm a worker gets this long before it is killed
SNAPSHOT_GRACE_S = 10.0  # building a large snapshot's tables is not the candidate's time
SCRUBBED_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}


class WorkerUnavailable(Unavailable):
    """No verifier worker could be started (the message says why)."""


class WorkerError(IbertError, RuntimeError):
    """A worker broke down while handling a request; it has been replaced."""


class _Worker:
    def __init__(self, prefix: list[str], limits: Limits):
        self.home = tempfile.mkdtemp(prefix="ibert-verifier-")
        env = {**SCRUBBED_ENV, "HOME": self.home, "TMPDIR": self.home}
        root = str(Path(__file__).resolve().parents[2])
        self.proc = subprocess.Popen(
            [*prefix, sys.executable, "-I", "-c", BOOTSTRAP, root, json.dumps(asdict(limits)),
             json.dumps([p for p in sys.path if p and os.path.isdir(p)])],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            cwd=self.home, env=env, close_fds=True, start_new_session=True,
        )
        self.inbox = self.proc.stdout.fileno()
        self.outbox = self.proc.stdin.fileno()
        self.snapshots: set[str] = set()
        self.lock = threading.Lock()
        try:
            hello = read_message(self.inbox, time.monotonic() + STARTUP_TIMEOUT_S)
        except (TimeoutError, EOFError, ValueError) as exc:
            self.kill()
            raise WorkerUnavailable(f"verifier worker did not start: {exc}") from exc
        if not hello or not hello.get("ready"):
            self.kill()
            raise WorkerUnavailable("verifier worker did not start (exited during warm-up)")
        self.notes: list[str] = hello.get("isolation", [])

    def request(self, message: dict, budget_s: float, progress: list[str]) -> dict:
        """Send ``message``; return its answer, recording stage messages in ``progress``.

        The candidate's clock starts at its first stage message: building a new snapshot's
        tables before that is the worker's time, not the candidate's.
        """
        write_message(self.outbox, message)
        deadline = time.monotonic() + budget_s + SNAPSHOT_GRACE_S
        started = False
        while True:
            answer = read_message(self.inbox, deadline, MAX_ANSWER_BYTES)
            if answer is None:
                raise EOFError("the worker closed its pipe")
            if "stage" in answer and "id" not in answer:
                progress.append(answer["stage"])
                if not started:
                    started, deadline = True, time.monotonic() + budget_s
                continue
            if answer.get("id") != message.get("id"):
                raise ValueError("the worker answered out of turn")
            return answer

    def exit_reason(self) -> str:
        code = self.proc.poll()
        if code is not None and code < 0:
            return signal.Signals(-code).name
        return "exit" if code is not None else "running"

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        """Kill the worker's process group and wait until every process of it is dead, the
        namespaced interpreter under ``unshare`` too (it is not our child, so wait() misses it)."""
        descendants = _descendants(self.proc.pid)
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:  # pragma: no cover - the kernel reaps it later
            pass
        _wait_dead(descendants, 5.0)
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
        shutil.rmtree(self.home, ignore_errors=True)


def _descendants(pid: int) -> list[int]:
    """Processes below ``pid`` (Linux /proc; empty where the kernel does not list children)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as handle:
            children = [int(child) for child in handle.read().split()]
    except (OSError, ValueError):
        return []
    return children + [grandchild for child in children for grandchild in _descendants(child)]


def _wait_dead(pids: list[int], seconds: float) -> None:
    """Wait until each of ``pids`` has exited (a zombie left for init to reap counts as exited)."""
    deadline = time.monotonic() + seconds
    for pid in pids:
        while time.monotonic() < deadline:
            try:
                with open(f"/proc/{pid}/stat") as handle:
                    state = handle.read().rsplit(")", 1)[1].split()[0]
            except (OSError, IndexError):
                break
            if state in ("Z", "X"):
                break
            time.sleep(0.01)


def _wait(proc: subprocess.Popen, seconds: float) -> None:
    try:
        proc.wait(seconds)
    except subprocess.TimeoutExpired:
        pass


class WorkerPool:
    """Warm verifier workers; ``run`` sends one candidate to one of them."""

    def __init__(self, size: int | None = None, limits: Limits | None = None,
                 namespaces: bool = True):
        self.size = size or max(1, min(4, (os.cpu_count() or 2)))
        self.limits = limits or Limits()
        self._idle: list[_Worker] = []
        self._live: set[_Worker] = set()  # idle or busy: close() kills them all
        self._busy = 0
        self._cond = threading.Condition()
        self._next_id = 0
        self._closed = False
        if namespaces:
            self._prefix, reason = namespace_prefix()
        else:
            self._prefix, reason = [], "namespaces turned off by the caller"
        self._missing = [] if reason is None else [f"namespaces: {reason}"]
        self._notes: list[str] = []
        self.restarts = 0

    # ------------------------------------------------------------ isolation report
    @property
    def isolation(self) -> Isolation:
        if not self._notes:
            self._release(self._acquire(None))
        applied = ["process: python -I, scrubbed environment, temporary directory, no inherited descriptors"]
        if self._prefix:
            applied.append("namespaces: user, network (no interfaces), pid, ipc, uts")
        applied += [n for n in self._notes if not n.startswith("!")]
        applied.append("per candidate: CPU budget and alarm, killed at its wall-clock deadline, worker replaced after any limit hit or crash")
        missing = self._missing + [n[1:] for n in self._notes if n.startswith("!")]
        return Isolation(process=True, applied=tuple(applied), missing=tuple(missing),
                         limits=asdict(self.limits))

    # ------------------------------------------------------------ workers
    def _spawn(self) -> _Worker:
        try:
            worker = _Worker(self._prefix, self.limits)
        except (WorkerUnavailable, OSError) as exc:
            if not self._prefix:
                raise WorkerUnavailable(str(exc)) from exc
            # namespaces may fail at run time (e.g. a container policy): say so, go on without
            self._missing.append(f"namespaces: worker failed to start under unshare ({exc})")
            self._prefix = []
            worker = _Worker(self._prefix, self.limits)
        self._notes = worker.notes
        with self._cond:
            self._live.add(worker)
            closed = self._closed
        if closed:  # closed while it started
            self._forget(worker)
            raise WorkerUnavailable("the verifier pool is closed")
        return worker

    def _forget(self, worker: _Worker) -> None:
        worker.kill()
        with self._cond:
            self._live.discard(worker)

    def process_ids(self) -> tuple[int, ...]:
        """The worker processes alive now (idle or busy)."""
        with self._cond:
            return tuple(w.proc.pid for w in self._live if w.alive())

    def _acquire(self, key: str | None) -> _Worker:
        with self._cond:
            while True:
                if self._closed:
                    raise WorkerUnavailable("the verifier pool is closed")
                if self._idle:
                    pick = next((w for w in self._idle if key in w.snapshots), self._idle[-1])
                    self._idle.remove(pick)
                    self._busy += 1
                    return pick
                if self._busy < self.size:
                    self._busy += 1
                    break
                self._cond.wait()
        try:
            return self._spawn()
        except BaseException:
            with self._cond:
                self._busy -= 1
                self._cond.notify()
            raise

    def _release(self, worker: _Worker | None) -> None:
        with self._cond:
            self._busy -= 1
            keep = worker is not None and worker.alive() and not self._closed
            if keep:
                self._idle.append(worker)
            self._cond.notify()
        if worker is not None and not keep:
            self._forget(worker)

    def warm(self, count: int | None = None) -> None:
        """Start workers ahead of the first request."""
        workers = [self._acquire(None) for _ in range(min(count or self.size, self.size))]
        for worker in workers:
            self._release(worker)

    def run(self, request: dict[str, Any], snapshot: list[dict], timeout_s: float) -> dict:
        """Send one candidate; returns the worker's result dict (may be a failure report).

        The worker is killed at ``timeout_s`` plus a short grace period (its own alarm
        normally answers first) and replaced after any limit hit or crash.
        """
        key = request["snapshot_key"]
        worker = self._acquire(key)
        with self._cond:
            self._next_id += 1
            request = {**request, "id": self._next_id, "timeout_s": timeout_s}
        budget = timeout_s + KILL_GRACE_S
        progress: list[str] = ["parse"]
        try:
            message = dict(request)
            if key not in worker.snapshots:
                message["snapshot"] = snapshot
            answer = worker.request(message, budget, progress)
            if answer.get("need_snapshot"):
                answer = worker.request({**request, "snapshot": snapshot}, budget, progress)
        except TimeoutError:
            self._replace(worker)
            return {"ok": False, "stage": progress[-1], "error_type": "CandidateTimeout",
                    "message": f"candidate ran longer than {timeout_s:g} s; its worker was killed",
                    "limit_hit": "wall-clock"}
        except (EOFError, ValueError, OSError):
            worker.proc.poll() if worker.proc.poll() is not None else _wait(worker.proc, 1.0)
            reason = worker.exit_reason()
            self._replace(worker)
            if reason in ("SIGXCPU", "SIGKILL"):
                return {"ok": False, "stage": progress[-1], "error_type": "CandidateTimeout",
                        "message": "candidate used up its CPU time limit; its worker was killed",
                        "limit_hit": "cpu"}
            return {"ok": False, "stage": progress[-1], "error_type": "WorkerCrash",
                    "message": f"the verifier worker died while running the candidate ({reason})",
                    "limit_hit": "crash"}
        worker.snapshots.add(key)
        if "input_error" in answer:
            self._release(worker)
            raise ValueError(answer["input_error"])
        result = answer["result"]
        if result.get("limit_hit"):
            self._replace(worker)  # a worker that hit a limit may be left in a bad state
        else:
            self._release(worker)
        return result

    def _replace(self, worker: _Worker) -> None:
        """Kill ``worker`` and start its successor in the background (its slot stays taken)."""
        self._forget(worker)
        self.restarts += 1

        def respawn() -> None:
            try:
                fresh = None if self._closed else self._spawn()
            except (WorkerUnavailable, OSError):
                fresh = None
            self._release(fresh)

        threading.Thread(target=respawn, name="ibert-verifier-respawn", daemon=True).start()

    def close(self) -> None:
        """Kill every worker, busy ones too (their requests answer WorkerCrash); no new ones start."""
        with self._cond:
            self._closed = True
            self._idle = []
            live = list(self._live)
            self._cond.notify_all()
        for worker in live:
            self._forget(worker)


_DEFAULT: WorkerPool | None = None
_DEFAULT_LOCK = threading.Lock()


def default_pool() -> WorkerPool:
    """The process-wide pool (created on first use, closed at exit).

    ``IBERT_VERIFIER_WORKERS`` sets its size (default: the CPU count, at most 4).
    """
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is None or _DEFAULT._closed:
            size = os.environ.get("IBERT_VERIFIER_WORKERS", "")
            _DEFAULT = WorkerPool(size=int(size) if size.isdigit() and int(size) > 0 else None)
            atexit.register(_DEFAULT.close)
        return _DEFAULT


def replace_default_pool(pool: WorkerPool | None, only: WorkerPool | None = None) -> WorkerPool | None:
    """Make ``pool`` the process-wide pool (the Jupyter server installs the one it owns).

    Returns the pool it replaced, which the caller closes; with ``only``, replaces nothing
    unless ``only`` is the current pool (an owner uninstalling its own).
    """
    global _DEFAULT
    with _DEFAULT_LOCK:
        previous = _DEFAULT
        if only is not None and previous is not only:
            return None
        _DEFAULT = pool
        if pool is not None:
            atexit.register(pool.close)
        return previous
