"""iBERT in a real JupyterLab, driven by Debian chromium through playwright-core.

One `jupyter lab` and one chromium session serve every test here (session-scoped fixtures):
drive_lab.cjs walks through Apply, Accept, the streamed chat, Insert, Cancel, inline
completion, a reload, the dark theme and the no-model state, and reports what the page showed;
each test checks one promise. The model is a FAKE OpenAI-compatible endpoint
(fake_endpoint.py, fixed answers, named so everywhere): Devstral's weights do not exist here.

Needs: /usr/bin/chromium (apt-get install chromium), labextension/node_modules (npm ci) and a
built extension (scripts/build_labextension.sh); skips with the reason when any is missing.
Screenshots of each state (light and dark) go to docs/screenshots/ when
IBERT_UPDATE_SCREENSHOTS=1, else they stay in the test's temporary folder.
"""

from __future__ import annotations

import importlib.util
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
DRIVER = Path(__file__).with_name("drive_lab.cjs")
JUPYTER = Path(sys.executable).with_name("jupyter")
SCREENSHOTS = ROOT / "docs" / "screenshots"
SETUP_CELL = (
    "%load_ext ibert_jupyter\nimport ibis\ncon = ibis.duckdb.connect()\n"
    'orders = con.create_table("orders", ibis.memtable({"o_orderkey": [1, 1, 2], "o_totalprice": [10.0, 5.0, 7.5]}))'
)
MIN_CONTRAST = 4.5
SETTINGS_MODEL = "ibert-from-settings"


def _load_fake_endpoint():
    spec = importlib.util.spec_from_file_location("ibert_fake_endpoint", Path(__file__).with_name("fake_endpoint.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


fake = _load_fake_endpoint()


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


@pytest.fixture(scope="session")
def endpoint():
    """The FAKE OpenAI-compatible endpoint standing in for a served Devstral."""
    reason = _missing()
    if reason:
        pytest.skip(reason)
    with fake.FakeEndpoint() as running:
        yield running


@pytest.fixture(scope="session")
def lab(tmp_path_factory, endpoint):
    """A real `jupyter lab` whose model runtime talks to the fake endpoint (named in the lab settings)."""
    tmp = tmp_path_factory.mktemp("lab")
    root = tmp / "root"
    root.mkdir()
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(SETUP_CELL)])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, root / "tables.ipynb")
    port, token = _free_port(), "ibert-browser-test-token"
    env = {k: v for k, v in os.environ.items() if not k.startswith("IBERT_")}
    env.update(JUPYTER_RUNTIME_DIR=str(tmp / "runtime"), IBERT_LOG_DB=str(tmp / "requests.sqlite"),
               IBERT_MODEL=str(tmp / "no-model-until-settings"))
    # No endpoint in the server's environment: JupyterLab's iBERT settings name it, and the
    # extension sends them to POST /ibert/model/config when it starts (no server restart).
    user_settings = tmp / "settings" / "ibert-jupyter"
    user_settings.mkdir(parents=True)
    (user_settings / "sidebar.jupyterlab-settings").write_text(
        json.dumps({"endpointUrl": endpoint.base_url, "endpointModel": SETTINGS_MODEL}))
    for key in ("IBERT_DATA_DIR", "IBERT_SEMGREP", "IBERT_SERENA_PYTHON"):
        if key in os.environ:
            env[key] = os.environ[key]
    log = open(tmp / "lab.log", "w")
    proc = subprocess.Popen(
        [str(JUPYTER), "lab", "--no-browser", "--allow-root", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
         f"--LabApp.workspaces_dir={tmp / 'workspaces'}", f"--LabApp.user_settings_dir={tmp / 'settings'}",
         "--LabApp.expose_app_in_browser=True", "--ServerApp.jpserver_extensions={'ibert_jupyter': True}"],
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=root,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait_for_server(url, token, proc, tmp / "lab.log")
        yield {"url": url, "token": token, "tmp": tmp}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="session")
def seen(lab):
    """Run the whole browser walk once; every test reads its part of the report."""
    shots = lab["tmp"] / "screenshots"
    shots.mkdir()
    args = {
        "url": lab["url"], "token": lab["token"], "notebook": "tables.ipynb", "screenshots": str(shots),
        "userDataDir": str(lab["tmp"] / "chromium-profile"), "nodeModules": str(NODE_MODULES),
        "executablePath": str(CHROMIUM),
    }
    done = subprocess.run(["node", str(DRIVER), json.dumps(args)], capture_output=True, text=True, timeout=420)
    assert done.stdout.strip(), f"driver printed nothing; stderr:\n{done.stderr[-3000:]}"
    result = json.loads(done.stdout.strip().splitlines()[-1])
    (lab["tmp"] / "seen.json").write_text(json.dumps(result, indent=1))
    if os.environ.get("IBERT_UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for png in shots.glob("*.png"):
            shutil.copy(png, SCREENSHOTS / png.name)
    log = (lab["tmp"] / "lab.log").read_text()[-4000:]
    assert "error" not in result, f"{result}\n--- lab log ---\n{log}"
    result["shot_dir"] = shots
    return result


def test_lab_settings_configure_the_model_without_a_restart(seen, endpoint):
    assert seen["modelAfterSettings"]["status"] == "configured"
    assert seen["modelAfterSettings"]["endpoint_model"] == SETTINGS_MODEL
    assert {r["body"].get("model") for r in endpoint.requests} == {SETTINGS_MODEL}


def _new_cell_below(action: dict, expected_code: str) -> None:
    assert action["after"] == action["before"] + 1
    assert action["index"] == action["anchor"] + 1, "the code must land directly below the panel's cell"
    assert action["code"] == expected_code
    assert action["ms"] <= 1000, f"inserted {action['ms']:.0f} ms after the click"
    print(f"inserted {action['ms']:.0f} ms after the click")


def test_apply_puts_the_fix_in_a_new_cell_directly_below_at_once(seen):
    _new_cell_below(seen["apply"], fake.CODE)
    assert seen["apply"]["status"] == "Inserted in a new cell below."


def test_accept_puts_the_generated_code_in_a_new_cell_directly_below_at_once(seen):
    assert "✓ Verified against orders (duckdb)" in seen["acceptPanel"]
    _new_cell_below(seen["accept"], fake.CODE)


def test_search_source_links_open_the_file_inside_jupyterlab_at_the_line(seen):
    view = seen["sourceView"]
    assert "relations.py:40" in view["tabs"]
    import ibis.expr.types.relations as rel

    source = Path(rel.__file__).read_text(encoding="utf-8")
    assert view["text"] == source[:200] and view["lines"] == source.count("\n") + 1
    assert view["cursorLine"] == 40
    assert view["highlighted"] > 0  # Python highlighting


def test_chat_tokens_appear_while_the_endpoint_is_still_sending(seen, endpoint):
    request = endpoint.chat_requests("slowly: total price per order key")[0]
    sent = request["sent_ms"]
    first_on_screen = seen["stream"]["first"]
    assert first_on_screen is not None
    print(f"first chat token on screen {first_on_screen - sent[0]:.0f} ms after the endpoint sent it; "
          f"the endpoint sent its last token {sent[-1] - first_on_screen:.0f} ms later")
    assert first_on_screen - sent[0] <= 300, f"first token shown {first_on_screen - sent[0]:.0f} ms after it was sent"
    assert first_on_screen < sent[-1] - 1000, "text must show while the endpoint is still sending"
    growing = [length for _, length in seen["stream"]["lengths"] if length]
    assert len(set(growing)) >= 5, "the answer must grow token by token"


def test_streamed_answer_is_rendered_verified_and_highlighted(seen):
    assert seen["answerStatus"] == "answered"
    assert seen["codeBlocks"] == [fake.CODE]
    assert seen["renderedCode"][0].strip() == fake.CODE
    assert seen["highlighted"] > 0, "code must be highlighted by JupyterLab's markdown renderer"
    assert len(seen["badges"]) == 1 and seen["badges"][0].startswith("✓ Verified against orders")
    assert seen["context"].startswith("Tables: orders") and "model: openai:" in seen["context"]
    assert seen["context"].endswith(SETTINGS_MODEL)
    assert seen["sidebarWidth"] >= 400


def test_chat_insert_puts_code_below_the_active_cell(seen):
    insert = seen["chatInsert"]
    assert insert["index"] == insert["anchor"] + 1 and insert["code"] == fake.CODE
    assert insert["ms"] <= 1000


def test_cancel_stops_the_answer_and_the_endpoint(seen, endpoint):
    cancel = seen["cancel"]
    assert "Cancelled" in cancel["text"] and cancel["buttonText"] == "Ask"
    assert cancel["lengthLater"] == cancel["lengthAtCancel"], "no text may arrive after Stop"
    request = endpoint.chat_requests("tell me at length about ibis")[0]
    assert not request["completed"], "the endpoint must not stream the whole answer"
    assert len(request["sent_ms"]) < fake.LONG_TOKENS
    assert request["disconnected_ms"] is not None
    assert request["disconnected_ms"] - seen["cancelClickedMs"] < 3000


def test_history_survives_a_reload(seen):
    history = seen["historyAfterReload"]
    assert history["questions"] == ["slowly: total price per order key", "tell me at length about ibis"]
    assert history["statuses"] == ["answered", "cancelled"]
    assert history["codeBlocks"] == [fake.CODE]


def test_inline_completion_appears_after_a_pause_and_tab_accepts_it(seen):
    completion = seen["completion"]
    assert completion["ghost"].strip().startswith(".group_by('o_orderkey')")
    assert completion["mark"] == "verified"
    assert "✓ verified" in completion["badge"]  # shown after the ghost text, never inserted
    assert completion["accepted"] == "result = orders" + fake.COMPLETION


@pytest.mark.parametrize("key", ["contrastLight", "contrastDark", "contrastDarkStreaming",
                                 "contrastDarkUnavailable", "contrastLightUnavailable",
                                 "contrastHighContrastUnavailable"])
def test_every_sidebar_text_is_readable(seen, key):
    measured = seen[key]
    assert measured["count"] > 10
    worst = measured["worst"][0]
    assert worst["ratio"] >= MIN_CONTRAST, f"{key}: {measured['worst']}"


def test_without_a_model_the_chat_says_unavailable_once(seen):
    assert seen["noModel"]["status"] == 200
    unavailable = seen["unavailable"]
    assert unavailable["statuses"] == ["model_unavailable", "model_unavailable"]
    assert unavailable["full"] == 1 and unavailable["repeat"] == 1
    assert unavailable["text"].count("Model unavailable") == 2  # the box, then one line pointing to it


def test_screenshots_of_each_state_in_both_themes(seen):
    names = {Path(p).name for p in seen["shots"]}
    for state in ("apply-inserted", "chat-streaming", "chat-answer", "chat-unavailable"):
        assert {f"{state}-light.png", f"{state}-dark.png"} <= names
    for png in seen["shot_dir"].glob("*.png"):
        assert png.stat().st_size > 10_000
