"""Capture the last exception of a notebook and the source of the cell that raised it.

Pure Python (no IPython import): the magic hands us the exception, and the cell source is
recovered from ``linecache``, where IPython's compiler stores every cell it runs. That makes
the capture exact even when the failing cell is not the latest one in the history.
"""

from __future__ import annotations

import linecache
import re
import sys
import traceback
from dataclasses import dataclass, field
from types import TracebackType

# IPython names cells "<ipython-input-N-hash>"; ipykernel writes them to /tmp/ipykernel_PID/...
_CELL_FILENAME = re.compile(r"^<ipython-input-(\d+)-[0-9a-f]+>$|/ipykernel_\d+/[^/]+\.py$")


@dataclass(frozen=True)
class LastError:
    """One captured failure: what was raised, where in the cell, and the cell's code."""

    error_type: str
    message: str
    traceback_text: str
    cell_source: str | None
    cell_number: int | None = None
    line: int | None = None
    exception: BaseException | None = field(default=None, repr=False, compare=False)

    def short(self) -> str:
        where = f" (cell line {self.line})" if self.line else ""
        return f"{self.error_type}: {self.message}{where}"


def is_cell_filename(filename: str) -> bool:
    return bool(_CELL_FILENAME.search(filename or ""))


def _cell_number(filename: str) -> int | None:
    match = _CELL_FILENAME.search(filename or "")
    return int(match.group(1)) if match and match.group(1) else None


def _cell_frame(tb: TracebackType | None) -> traceback.FrameSummary | None:
    """The innermost traceback frame that belongs to a notebook cell."""
    frames = [f for f in traceback.extract_tb(tb) if is_cell_filename(f.filename)]
    return frames[-1] if frames else None


def _cell_text(filename: str) -> str | None:
    lines = linecache.getlines(filename)
    return "".join(lines) if lines else None


def capture(
    exc: BaseException,
    cell_source: str | None = None,
    cell_number: int | None = None,
) -> LastError:
    """Describe ``exc``; ``cell_source`` is used when the traceback names no cell."""
    if not isinstance(exc, BaseException):
        raise TypeError(f"capture() needs an exception, got {type(exc).__name__}")
    frame = _cell_frame(exc.__traceback__)
    line = frame.lineno if frame else None
    if frame is not None:
        cell_source = _cell_text(frame.filename) or cell_source
        cell_number = _cell_number(frame.filename) or cell_number
    if isinstance(exc, SyntaxError):
        if is_cell_filename(exc.filename or ""):
            cell_source = _cell_text(exc.filename) or cell_source
            cell_number = _cell_number(exc.filename) or cell_number
        line = exc.lineno
    message = exc.msg if isinstance(exc, SyntaxError) else str(exc)
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return LastError(
        error_type=type(exc).__name__,
        message=(message or "").strip(),
        traceback_text=text,
        cell_source=cell_source,
        cell_number=cell_number,
        line=line,
        exception=exc,
    )


def capture_last(cell_source: str | None = None) -> LastError | None:
    """The interpreter's last unhandled exception (``sys.last_value``), or None."""
    exc = getattr(sys, "last_exc", None) or getattr(sys, "last_value", None)
    if exc is None:
        return None
    return capture(exc, cell_source=cell_source)
