"""iBERT's one exception family.

Every exception iBERT raises derives from ``IbertError`` *and* from the builtin it resembles,
so ``except IbertError`` catches everything of ours while existing ``except ValueError`` (or
``RuntimeError``, ``LookupError`` ...) callers keep working. The groups below say what kind of
trouble it is; each module keeps its own specific class (``UnsupportedSQL``, ``IndexUnavailable``
...) whose message names the problem and how to fix it. ``tests/test_errors.py`` walks the
package and fails on any exception class outside the family or on two classes with one name.
"""

from __future__ import annotations


class IbertError(Exception):
    """Root of every iBERT exception (always combined with a builtin base as well)."""


class IbertInputError(IbertError, ValueError):
    """What the caller passed (a request, a file, a name, a setting) is malformed; the message names the field."""


class Unsupported(IbertError, ValueError):
    """Well-formed input that iBERT cannot handle without changing its meaning (SQL, a model layout)."""


class Unavailable(IbertError, RuntimeError):
    """A dependency, model weights, an index or a data set is missing; the message says how to get it."""


class Refused(IbertError, PermissionError):
    """A safety check refused candidate code or a query (sandbox allow-list, preview guard)."""
