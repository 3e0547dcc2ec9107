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

import importlib.util

import nbformat
import pytest


def _load_fake_endpoint():
    spec = importlib.util.spec_from_file_location("ibert_fake_endpoint", Path(__file__).with_name("fake_endpoint.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.FakeEndpoint


FakeEndpoint = _load_fake_endpoint()

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


def _run_lab(tmp_path: Path, extra_env: dict[str, str]):
    """Start a real `jupyter lab` on a free loopback port with a token; yield how to reach it."""
    reason = _missing()
    if reason:
        pytest.skip(reason)
    root = tmp_path / "root"
    root.mkdir()
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(SETUP_CELL)])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, root / "tables.ipynb")
    port, token = _free_port(), "ibert-browser-test-token"
    env = {k: v for k, v in os.environ.items() if not k.startswith("IBERT_")}
    env.update(JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"), IBERT_LOG_DB=str(tmp_path / "requests.sqlite"))
    env.update(extra_env)
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


@pytest.fixture
def lab_without_model(tmp_path):
    """Lab whose model points at a missing directory, so the chat must degrade."""
    yield from _run_lab(tmp_path, {"IBERT_MODEL": str(tmp_path / "no-such-model")})


@pytest.fixture
def endpoint():
    if _missing():
        pytest.skip(_missing())
    with FakeEndpoint() as running:
        yield running


@pytest.fixture
def lab_with_endpoint(tmp_path, endpoint):
    """Lab whose model runtime uses its real OpenAI-compatible backend against ``endpoint``."""
    yield from _run_lab(tmp_path, {"IBERT_OPENAI_BASE_URL": endpoint.base_url, "IBERT_OPENAI_MODEL": "ibert"})


def drive(lab, question: str) -> dict:
    """Run the chromium driver against ``lab``; check what every scenario must show."""
    screenshot = lab["tmp"] / "ibert_sidebar.png"
    args = {
        "url": lab["url"], "token": lab["token"], "notebook": "tables.ipynb",
        "question": question, "screenshot": str(screenshot),
        "userDataDir": str(lab["tmp"] / "chromium-profile"), "nodeModules": str(NODE_MODULES),
        "executablePath": str(CHROMIUM),
    }
    done = subprocess.run(["node", str(DRIVER), json.dumps(args)], capture_output=True, text=True, timeout=240)
    assert done.stdout.strip(), f"driver printed nothing; stderr:\n{done.stderr[-3000:]}"
    result = json.loads(done.stdout.strip().splitlines()[-1])
    keep = os.environ.get("IBERT_KEEP_SCREENSHOTS")  # a folder: look at what the browser showed
    if keep and screenshot.exists():
        shutil.copy(screenshot, Path(keep) / f"{lab['tmp'].name}.png")
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
    assert result["questionEcho"] == question
    assert result["snapshotNote"] == ""
    assert result["contextText"].startswith("Tables: orders")
    assert result["symbolCount"] > 0 or any("index" in n.lower() for n in result["notices"])
    return result


def test_sidebar_without_model_says_so_and_keeps_context(lab_without_model):
    result = drive(lab_without_model, "total price per order key")
    assert result["answerStatus"] == "model_unavailable"
    assert "Model unavailable" in result["answerText"]
    assert "The model is unavailable: Devstral is not available" in result["answerText"]
    assert "no-such-model" in result["answerText"]
    assert result["codeBlocks"] == []


def test_sidebar_answer_from_openai_endpoint_is_verified_against_kernel_tables(lab_with_endpoint, endpoint):
    result = drive(lab_with_endpoint, "total price per order key")
    assert result["answerStatus"] == "answered"
    assert result["codeBlocks"] == ["orders.group_by('o_orderkey').agg(total=orders.o_totalprice.sum())"]
    assert len(result["badges"]) == 1 and result["badges"][0].startswith("✓ verified against orders")
    assert len(result["sql"]) == 1 and "GROUP BY" in result["sql"][0].upper()
    assert "model: openai:" in result["contextText"]
    # the prompt the endpoint received carries the kernel's columns and the question
    prompt = endpoint.requests[-1]["body"]["messages"][-1]["content"]
    assert "o_totalprice: float64" in prompt and "Question: total price per order key" in prompt
