"""Classify an Ibis error into a kind the fixers understand.

Works from the error's type name and message only (plus the failing line), so the same
classifier serves a live exception from the kernel and a verifier report from the sandbox.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ibert_jupyter.repair.api_changes import deprecated_methods, hinted_name

UNKNOWN_COLUMN = "unknown_column"
UNKNOWN_METHOD = "unknown_method"
PANDAS_IDIOM = "pandas_idiom"
RENAMED_API = "renamed_api"
RELATION_INTEGRITY = "relation_integrity"
SIGNATURE = "signature"
TYPE_MISMATCH = "type_mismatch"
NAME_ERROR = "name_error"
SYNTAX_ERROR = "syntax_error"
BACKEND_ERROR = "backend_error"
SANDBOX = "sandbox"
UNKNOWN = "unknown"

KINDS = (
    UNKNOWN_COLUMN, UNKNOWN_METHOD, PANDAS_IDIOM, RENAMED_API, RELATION_INTEGRITY, SIGNATURE,
    TYPE_MISMATCH, NAME_ERROR, SYNTAX_ERROR, BACKEND_ERROR, SANDBOX, UNKNOWN,
)

# pandas spellings a user reaches for on an Ibis expression (attribute names and keywords).
PANDAS_ATTRIBUTES = frozenset(
    {
        "groupby", "str", "dt", "astype", "sort_values", "sort_index", "merge", "apply", "map",
        "loc", "iloc", "isna", "notna", "query", "reset_index", "set_index", "drop_duplicates",
        "nlargest", "nsmallest", "assign", "iterrows", "itertuples", "size", "shape",
        "dtypes", "unique", "transform", "fillna", "dropna", "tolist", "values", "idxmax",
        "idxmin",
    }
)
PANDAS_KEYWORDS = frozenset({"ascending", "by", "columns", "inplace", "axis", "left_on", "right_on", "on", "as_index"})

_NO_ATTRIBUTE = re.compile(r"'?(\w+)'? object has no attribute '(\w+)'")
_NOT_FOUND_COLUMN = re.compile(r"Column '([^']+)' is not found")
_SANDBOX_ATTRIBUTE = re.compile(r"'\.(\w+)' is not allowed")
_NAME_NOT_DEFINED = re.compile(r"name '(\w+)' is not defined")
_UNEXPECTED_KEYWORD = re.compile(r"unexpected keyword argument '(\w+)'")
_BACKEND_ERRORS = re.compile(
    r"(Binder|Conversion|Catalog|Parser|InvalidInput|OutOfRange|NotImplemented|Constraint)"
    r"(Exception|Error)$"
)


@dataclass(frozen=True)
class Diagnosis:
    """What went wrong, in a form fixers can act on and users can read."""

    kind: str
    error_type: str
    message: str
    name: str | None = None  # the missing attribute / column / variable / keyword
    receiver: str | None = None  # type name the attribute was looked up on
    hint: str | None = None  # a replacement ibis itself or the installed API suggests
    line: int | None = None

    def headline(self) -> str:
        return _HEADLINES.get(self.kind, "Unrecognised error").format(d=self)


_HEADLINES = {
    UNKNOWN_COLUMN: "Column {d.name!r} does not exist on this relation",
    UNKNOWN_METHOD: "{d.receiver} has no method {d.name!r}",
    PANDAS_IDIOM: "pandas idiom {d.name!r} used on an Ibis expression",
    RENAMED_API: "{d.name!r} was renamed or removed in the installed Ibis",
    RELATION_INTEGRITY: "An expression refers to a relation that is not the one being queried",
    SIGNATURE: "A method was called with arguments it does not accept",
    TYPE_MISMATCH: "Values of incompatible types are combined",
    NAME_ERROR: "Name {d.name!r} is not defined",
    SYNTAX_ERROR: "The cell is not valid Python",
    BACKEND_ERROR: "The backend rejected the compiled query",
    SANDBOX: "The verifier's sandbox refused the code",
    UNKNOWN: "Unrecognised error",
}


def _is_ibis_type(name: str | None) -> bool:
    if not name:
        return False
    import ibis.expr.types as ir

    return isinstance(getattr(ir, name, None), type)


def _column_like(name: str) -> bool:
    """Whether an attribute name looks like data (a column) rather than an API name."""
    import ibis.expr.types as ir

    return name not in dir(ir.Table) and name not in dir(ir.Column)


def classify(error_type: str, message: str, line: int | None = None) -> Diagnosis:
    """Turn an error's type name and message into a :class:`Diagnosis`."""
    message = (message or "").strip()
    base = dict(error_type=error_type, message=message, line=line)

    if error_type in {"SyntaxError", "IndentationError", "TabError"}:
        return Diagnosis(SYNTAX_ERROR, **base)
    if error_type in {"SandboxError"}:
        refused = _SANDBOX_ATTRIBUTE.search(message)
        if refused and refused.group(1) in PANDAS_ATTRIBUTES:  # e.g. .drop_duplicates: pandas, not Ibis
            return Diagnosis(PANDAS_IDIOM, name=refused.group(1), receiver="Table", **base)
        return Diagnosis(SANDBOX, **base)
    if error_type in {"NameError", "UnboundLocalError"}:
        match = _NAME_NOT_DEFINED.search(message)
        return Diagnosis(NAME_ERROR, name=match.group(1) if match else None, **base)
    if error_type == "IntegrityError" or "belong to another relation" in message or "foreign tables" in message:
        return Diagnosis(RELATION_INTEGRITY, **base)

    missing = _NOT_FOUND_COLUMN.search(message)
    if missing:
        return Diagnosis(UNKNOWN_COLUMN, name=missing.group(1), receiver="Table", **base)

    attribute = _NO_ATTRIBUTE.search(message) if error_type == "AttributeError" else None
    if attribute:
        receiver, name = attribute.groups()
        hint = hinted_name(message)
        if not _is_ibis_type(receiver):
            return Diagnosis(UNKNOWN, name=name, receiver=receiver, **base)
        deprecated = deprecated_methods().get(name)
        if name in PANDAS_ATTRIBUTES:
            return Diagnosis(PANDAS_IDIOM, name=name, receiver=receiver, hint=hint, **base)
        if hint or deprecated:
            hint = hint or (deprecated.replacement if deprecated else None)
            return Diagnosis(RENAMED_API, name=name, receiver=receiver, hint=hint, **base)
        if receiver in {"Table", "Join"} and _column_like(name):
            return Diagnosis(UNKNOWN_COLUMN, name=name, receiver=receiver, **base)
        return Diagnosis(UNKNOWN_METHOD, name=name, receiver=receiver, **base)

    if error_type == "TypeError":
        keyword = _UNEXPECTED_KEYWORD.search(message)
        if keyword:
            kind = PANDAS_IDIOM if keyword.group(1) in PANDAS_KEYWORDS else SIGNATURE
            return Diagnosis(kind, name=keyword.group(1), **base)
        if "unsupported operand" in message or "not supported between" in message:
            return Diagnosis(TYPE_MISMATCH, **base)
        return Diagnosis(SIGNATURE, **base)
    if error_type in {"SignatureValidationError", "ValidationError", "InputTypeError"}:
        return Diagnosis(SIGNATURE, **base)
    if error_type in {"IbisTypeError", "ExpressionError"} and (
        "comparable" in message or "type" in message.lower()
    ):
        return Diagnosis(TYPE_MISMATCH, **base)
    if _BACKEND_ERRORS.search(error_type) or error_type.endswith("Exception"):
        return Diagnosis(BACKEND_ERROR, **base)
    return Diagnosis(UNKNOWN, **base)
