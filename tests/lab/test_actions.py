"""Notebook actions from a real ipykernel: the comm JupyterLab's extension answers, and its fallback.

The kernel is real (jupyter_client starts it); the test plays JupyterLab's side of the
protocol: it sends the execute request with the ``cellId`` metadata JupyterLab sends, reads
the ``ibert_actions`` comm_open, and answers (or closes) the comm as the extension does.
"""

from __future__ import annotations

import os
import queue
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CALL = ("from ibert_jupyter.jupyter.actions import current_cell_id, insert_below\n"
        "insert_below('x = 1\\n', current_cell_id(), on_done=lambda ok, message: print('DONE', ok, message))")


@pytest.fixture(scope="module")
def kernel():
    from jupyter_client.manager import start_new_kernel

    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    manager, client = start_new_kernel(kernel_name="python3", env=env)
    yield client
    client.stop_channels()
    manager.shutdown_kernel(now=True)


def _iopub(client, predicate, timeout=20):
    while True:
        try:
            msg = client.get_iopub_msg(timeout=timeout)
        except queue.Empty:
            raise AssertionError("the kernel sent no matching message") from None
        if predicate(msg):
            return msg


def _execute_from_cell(client, code: str, cell_id: str) -> str:
    msg = client.session.msg("execute_request", {"code": code, "silent": False, "store_history": True,
                                                 "user_expressions": {}, "allow_stdin": False, "stop_on_error": True},
                             metadata={"cellId": cell_id})
    client.shell_channel.send(msg)
    return msg["header"]["msg_id"]


def _stream_text(client, timeout=20) -> str:
    msg = _iopub(client, lambda m: m["msg_type"] == "stream" and "DONE" in m["content"]["text"], timeout)
    return msg["content"]["text"].strip()


def test_insert_below_opens_the_comm_with_the_running_cells_id(kernel):
    _execute_from_cell(kernel, CALL, "cell-abc")
    opened = _iopub(kernel, lambda m: m["msg_type"] == "comm_open")
    content = opened["content"]
    assert content["target_name"] == "ibert_actions"
    assert content["data"] == {"action": "insert-below", "code": "x = 1\n", "cell_id": "cell-abc", "run": False}
    # the extension inserted the cell and says so on the comm
    answer = kernel.session.msg("comm_msg", {"comm_id": content["comm_id"], "data": {"ok": True, "index": 3}})
    kernel.shell_channel.send(answer)
    assert _stream_text(kernel) == "DONE True Inserted in a new cell below."


def test_a_frontend_without_the_extension_closes_the_comm_and_the_caller_hears_why(kernel):
    _execute_from_cell(kernel, CALL, "cell-def")
    opened = _iopub(kernel, lambda m: m["msg_type"] == "comm_open")
    # what JupyterLab does with a comm target nobody registered: close it unanswered
    close = kernel.session.msg("comm_close", {"comm_id": opened["content"]["comm_id"], "data": {}})
    kernel.shell_channel.send(close)
    text = _stream_text(kernel)
    assert text.startswith("DONE False this frontend cannot insert cells")


def test_a_refusal_from_the_frontend_is_reported(kernel):
    _execute_from_cell(kernel, CALL, "cell-ghi")
    opened = _iopub(kernel, lambda m: m["msg_type"] == "comm_open")
    answer = kernel.session.msg("comm_msg", {"comm_id": opened["content"]["comm_id"],
                                             "data": {"ok": False, "message": "the notebook is not loaded"}})
    kernel.shell_channel.send(answer)
    assert _stream_text(kernel) == "DONE False Not inserted: the notebook is not loaded"
