"""The IbertServer app owns its processes and threads: stopping Jupyter ends all of them.

Two real servers: one in the test process (pytest-jupyter; stopped the way Jupyter stops,
``ServerApp._cleanup``, which calls every ExtensionApp's ``stop_extension``) so the test can
see the processes die while the process that started them lives on; and a ``jupyter server``
subprocess stopped with SIGTERM. No model is involved.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import psutil
import pytest
from tornado.httpclient import HTTPClientError

from ibert_jupyter.jupyter.services import SERVICES_KEY

# a body over process_parse_bytes goes to the helper process; its snapshot is malformed (400)
BIG_BAD_BODY = json.dumps({"question": "count", "snapshot": {"tables": "not a list"}, "pad": "x" * 4096})
IBERT_THREADS = ("ibert-cpu", "ibert-gpu")


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _tree(pids) -> list[psutil.Process]:
    procs = []
    for pid in pids:
        proc = psutil.Process(pid)
        procs += [proc, *proc.children(recursive=True)]
    return procs


@pytest.fixture
def jp_server_config():
    return {"ServerApp": {"jpserver_extensions": {"ibert_jupyter": True}},
            "IbertServer": {"warm_verifiers": 1, "verifier_workers": 1, "process_parse_bytes": 1024}}


async def test_stopping_the_server_ends_ibert_processes_threads_and_requests(jp_serverapp, jp_fetch):
    services = jp_serverapp.web_app.settings[SERVICES_KEY]
    assert services.config.verifier_workers == 1 and services.config.process_parse_bytes == 1024  # c.IbertServer.*
    with pytest.raises(HTTPClientError) as bad:
        await jp_fetch("ibert", "chat", method="POST", body=BIG_BAD_BODY)
    assert bad.value.code == 400 and "'tables' list" in json.loads(bad.value.response.body)["error"]["message"]
    deadline = time.monotonic() + 60
    while not services.verifiers.process_ids():  # warm_verifiers starts one with the server
        assert time.monotonic() < deadline, "the warm verifier worker never started"
        await asyncio.sleep(0.1)
    pids = services.process_ids()
    assert len(pids) == 2 and services.snapshots.pid in pids  # the body parser and one verifier
    procs = _tree(pids)
    assert all(p.is_running() and not _gone(p.pid) for p in procs)
    _, running = services.requests.open("still-running")

    await jp_serverapp._cleanup()  # what SIGTERM and POST /api/shutdown run

    assert running.cancelled
    assert [p.pid for p in procs if not _gone(p.pid)] == []
    assert jp_serverapp.web_app.settings.get("ibert").services is None
    deadline = time.monotonic() + 10
    while any(t.name.startswith(IBERT_THREADS) for t in threading.enumerate()):
        assert time.monotonic() < deadline, [t.name for t in threading.enumerate()]
        await asyncio.sleep(0.05)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _request(url: str, body: bytes | None = None) -> int:
    request = urllib.request.Request(url, data=body, headers={"Authorization": "token t0k"},
                                     method="POST" if body is not None else "GET")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.mark.slow
def test_sigterm_to_a_jupyter_server_leaves_no_ibert_process(tmp_path):
    port = _free_port()
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "config"), "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt"),
           "JUPYTER_DATA_DIR": str(tmp_path / "data")}
    log = tmp_path / "server.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "jupyter_server", "--no-browser", "--allow-root", f"--port={port}",
             "--IdentityProvider.token=t0k", f"--ServerApp.root_dir={tmp_path}",
             "--IbertServer.warm_verifiers=1", "--IbertServer.verifier_workers=1",
             "--IbertServer.process_parse_bytes=1024"],
            stdout=out, stderr=subprocess.STDOUT, env=env, cwd=tmp_path)
    try:
        base = f"http://127.0.0.1:{port}/ibert/"
        deadline = time.monotonic() + 120
        while True:
            try:
                if _request(base + "model") == 200:
                    break
            except OSError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.3)
        assert _request(base + "chat", BIG_BAD_BODY.encode()) == 400
        me = psutil.Process(server.pid)
        while not any("-I" in p.cmdline() for p in me.children(recursive=True) if not _gone(p.pid)):
            assert time.monotonic() < deadline, "the warm verifier worker never started"
            time.sleep(0.2)
        procs = me.children(recursive=True)
        assert len(procs) >= 2  # the body parser, the verifier (and its namespace launcher, if any)

        server.send_signal(signal.SIGTERM)
        assert server.wait(60) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    assert [p.pid for p in procs if not _gone(p.pid)] == []
    stopped = [line for line in log.read_text().splitlines() if "iBERT stopped" in line]
    assert stopped and "2 worker process(es) ended" in stopped[0], stopped
