"""Notebook actions from the kernel: put code in a new cell directly below, at once.

IPython's ``set_next_input`` only reaches JupyterLab with the reply to an execution, so from
a widget click it lands under whichever cell runs next. Instead the kernel opens a comm to
the ``ibert_actions`` target, which iBERT's JupyterLab extension registers on every
notebook's kernel; the extension inserts the cell (below the cell that showed the panel,
found by the ``cellId`` JupyterLab sends with each execution) and answers on the comm.
Without the extension the comm is closed unanswered and the caller hears so (``on_done``).

Also: ``source_json`` lets the extension show an installed module's source (search links).
"""

from __future__ import annotations

import sys
import sysconfig
from pathlib import Path
from typing import Any, Callable

TARGET = "ibert_actions"
NO_FRONTEND = ("this frontend cannot insert cells (iBERT's JupyterLab extension is not active); "
               "the code will appear under the next cell you run")


def current_cell_id(shell=None) -> str | None:
    """The id of the cell being executed (JupyterLab sends it as ``cellId`` metadata)."""
    if shell is None:
        from IPython import get_ipython

        shell = get_ipython()
    kernel = getattr(shell, "kernel", None)
    if kernel is None:
        return None
    try:
        parent = kernel.get_parent("shell")
    except Exception:  # noqa: BLE001 - ipykernel < 6 has no parent bookkeeping
        return None
    cell_id = (parent or {}).get("metadata", {}).get("cellId")
    return cell_id if isinstance(cell_id, str) else None


def insert_below(code: str, cell_id: str | None = None, *, run: bool = False, shell=None,
                 on_done: Callable[[bool, str], None] | None = None) -> bool:
    """Ask the frontend to put ``code`` in a new cell below ``cell_id`` (or the active cell).

    Returns False when no comm can be opened (no kernel: plain IPython), after falling back
    to ``set_next_input``. ``on_done(ok, message)`` is called when the frontend answers, or
    with ok=False when it closes the comm without answering (no iBERT extension).
    """
    if shell is None:
        from IPython import get_ipython

        shell = get_ipython()
    if getattr(shell, "kernel", None) is None:
        if shell is not None:
            shell.set_next_input(code, replace=False)
        return False
    from comm import create_comm

    answered: list[dict] = []

    def on_msg(msg: dict[str, Any]) -> None:
        data = msg.get("content", {}).get("data", {}) or {}
        answered.append(data)
        if on_done is not None:
            ok = bool(data.get("ok"))
            on_done(ok, "Inserted in a new cell below." if ok else f"Not inserted: {data.get('message', 'unknown error')}")

    def on_close(_msg: dict[str, Any]) -> None:
        if not answered:
            shell.set_next_input(code, replace=False)
            if on_done is not None:
                on_done(False, NO_FRONTEND)

    channel = create_comm(target_name=TARGET, data={"action": "insert-below", "code": code, "cell_id": cell_id, "run": run})
    channel.on_msg(on_msg)
    channel.on_close(on_close)
    return True


def _allowed_roots() -> list[Path]:
    roots = {sysconfig.get_paths()[key] for key in ("purelib", "platlib")}
    roots.update(p for p in sys.path if p.endswith("site-packages"))
    return [Path(root).resolve() for root in roots if root]


def read_installed_source(path: str) -> str:
    """Text of an installed package's ``.py`` file; anything else is refused with the reason."""
    file = Path(path).resolve()
    if file.suffix != ".py":
        raise ValueError(f"only Python source files can be opened, not {file.name}")
    if not any(file.is_relative_to(root) for root in _allowed_roots()):
        raise ValueError(f"{file} is not inside an installed package")
    return file.read_text(encoding="utf-8")


def source_json(path: str):
    """For the labextension's source viewer: ``{"path", "text"}`` as an IPython JSON display."""
    from IPython.display import JSON

    return JSON({"path": path, "text": read_installed_source(path)})
