"""Capture of the last exception and its cell, without IPython."""

from __future__ import annotations

import linecache

import pytest

from ibert_jupyter.context.last_error import capture, is_cell_filename


def test_capture_reads_cell_source_from_linecache():
    filename = "<ipython-input-7-0123abcd>"
    code = "x = 1\ny = undefined_name\n"
    linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
    try:
        exec(compile(code, filename, "exec"), {})
    except NameError as exc:
        error = capture(exc)
    finally:
        linecache.cache.pop(filename, None)
    assert error.cell_source == code and error.cell_number == 7 and error.line == 2
    assert error.error_type == "NameError" and "undefined_name" in error.message


def test_capture_falls_back_to_given_source():
    try:
        raise ValueError("boom")
    except ValueError as exc:
        error = capture(exc, cell_source="raise ValueError('boom')")
    assert error.cell_source == "raise ValueError('boom')" and error.line is None


def test_capture_rejects_non_exceptions():
    with pytest.raises(TypeError, match="needs an exception"):
        capture("not an exception")


def test_cell_filenames():
    assert is_cell_filename("<ipython-input-3-abc123>")
    assert is_cell_filename("/tmp/ipykernel_123/456.py")
    assert not is_cell_filename("/usr/lib/python3.11/os.py")
