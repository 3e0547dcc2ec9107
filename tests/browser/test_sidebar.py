"""The iBERT sidebar in a real JupyterLab, driven by Debian chromium through playwright-core.

Needs: /usr/bin/chromium (apt-get install chromium), labextension/node_modules (npm ci) and a
built extension (scripts/build_labextension.sh); skips with the reason when any is missing.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
NODE_MODULES = ROOT / "labextension" / "node_modules"
EXTENSION = ROOT / "ibert_jupyter" / "labextension_static" / "package.json"
CHROMIUM = Path("/usr/bin/chromium")
DRIVER = Path(__file__).with_name("drive_sidebar.cjs")
JUPYTER = Path(sys.executable).with_name("jupyter")
SETUP_CELL = 'import ibis\norders = ibis.table({"o_orderkey": "int64", "o_totalprice": "float64"}, name="orders")'


def _missing() -> str | None:
    if not CHROMIUM.exists():
        return "chromium is not installed (apt-get install -y chromium)"
    if shutil.which("node") is None:
        return "node is not installed"
    if not (NODE_MODULES / "playwright-core").is_dir():
        return "labextension/node_modules has no playwright-core (run scripts/build_labextension.sh)"
    if not EXTENSION.exists():
        return "the labextension is not built (run scripts/build_labextension.sh)"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_server(url: str, token: str, proc: subprocess.Popen, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}api/status?token={token}", timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"jupyter lab did not answer at {url} within {timeout} s")


@pytest.fixture
def lab(tmp_path):
    reason = _missing()
    if reason:
        pytest.skip(reason)
    root = tmp_path / "root"
    root.mkdir()
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(SETUP_CELL)])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, root / "tables.ipynb")
    port, token = _free_port(), "ibert-browser-test-token"
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
    log = open(tmp_path / "lab.log", "w")
    proc = subprocess.Popen(
        [str(JUPYTER), "lab", "--no-browser", "--allow-root", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
         f"--LabApp.workspaces_dir={tmp_path / 'workspaces'}",
         f"--LabApp.user_settings_dir={tmp_path / 'settings'}",
         "--ServerApp.jpserver_extensions={'ibert_jupyter': True}"],
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=root,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait_for_server(url, token, proc, tmp_path / "lab.log")
        yield {"url": url, "token": token, "tmp": tmp_path}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_sidebar_shows_status_and_answers_with_kernel_tables(lab):
    screenshot = lab["tmp"] / "ibert_sidebar.png"
    args = {
        "url": lab["url"], "token": lab["token"], "notebook": "tables.ipynb",
        "question": "total price per order key", "screenshot": str(screenshot),
        "userDataDir": str(lab["tmp"] / "chromium-profile"), "nodeModules": str(NODE_MODULES),
        "executablePath": str(CHROMIUM),
    }
    done = subprocess.run(["node", str(DRIVER), json.dumps(args)], capture_output=True, text=True, timeout=240)
    assert done.stdout.strip(), f"driver printed nothing; stderr:\n{done.stderr[-3000:]}"
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if os.environ.get("IBERT_KEEP_SCREENSHOT"):
        shutil.copy(screenshot, os.environ["IBERT_KEEP_SCREENSHOT"])

    log = (lab["tmp"] / "lab.log").read_text()[-3000:]
    assert "error" not in result, f"{result}\n--- lab log ---\n{log}"
    assert result["steps"] == ["notebook-open", "cell-run", "sidebar-open", "answered"]
    assert screenshot.stat().st_size > 10_000
    assert result["tabTitle"] == "iBERT: Ibis assistant"
    # status comes from GET /ibert/status
    assert result["statusState"] == "ok"
    assert "iBERT 0.1.0" in result["statusText"] and "Ibis 12.0.0" in result["statusText"]
    assert "Model:" in result["statusText"] and "Index:" in result["statusText"]
    # the question went out with the kernel's schema snapshot: the answer names its table
    assert result["questionEcho"] == "total price per order key"
    assert result["snapshotNote"] == ""
    assert result["contextText"].startswith("Tables: orders")
    assert result["answerStatus"] in {"answered", "model_unavailable"}
    if result["answerStatus"] == "model_unavailable":
        assert "Model unavailable" in result["answerText"]
        assert "The model is unavailable:" in result["answerText"]
    assert result["symbolCount"] > 0 or any("index" in n.lower() for n in result["notices"])
