"""Python code building blocks: safe names, column access, statement list."""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field

import ibis.expr.types as ir

from ibert_jupyter.verify.sandbox import FORBIDDEN_ATTRIBUTES, FORBIDDEN_ATTRIBUTE_PREFIXES

# Attribute access `t.name` only works for names that are not Table/Column methods.
_TABLE_ATTRS = frozenset(dir(ir.Table)) | frozenset(dir(ir.Column)) | frozenset(dir(ir.Value))
_IDENT = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")

# Precedences of Python operators as the generated code uses them (higher binds tighter).
PREC_COMPARE = 5
PREC_OR = 6
PREC_AND = 8
PREC_ADD = 10
PREC_MUL = 11
PREC_UNARY = 12
PREC_POW = 13
PREC_ATOM = 20


def is_identifier(name: str) -> bool:
    return bool(_IDENT.match(name)) and not keyword.iskeyword(name)


def attribute_ok(name: str) -> bool:
    """Whether ``t.name`` reaches the column (else the code must say ``t["name"]``)."""
    return (
        is_identifier(name)
        and name not in _TABLE_ATTRS
        and name not in FORBIDDEN_ATTRIBUTES
        and not name.startswith(FORBIDDEN_ATTRIBUTE_PREFIXES)
    )


def column_access(owner: str, name: str) -> str:
    return f"{owner}.{name}" if attribute_ok(name) else f"{owner}[{name!r}]"


def kwarg_ok(name: str) -> bool:
    return is_identifier(name) and name not in ("_",)


@dataclass(frozen=True)
class Code:
    """A rendered Python expression with its precedence (for minimal parentheses)."""

    text: str
    prec: int = PREC_ATOM
    literal: bool = False  # a plain Python literal, not yet an Ibis value

    def wrap(self, min_prec: int) -> str:
        return self.text if self.prec >= min_prec else f"({self.text})"

    def receiver(self) -> str:
        """Text usable before ``.method()``: Python literals become Ibis literals."""
        if self.literal:
            return f"ibis.literal({self.text})"
        return self.wrap(PREC_ATOM)

    def value(self) -> str:
        """Text usable as a standalone Ibis value (select/agg argument)."""
        return f"ibis.literal({self.text})" if self.literal else self.text


@dataclass
class Program:
    """The statements of the generated code, with unique variable names."""

    statements: list[str] = field(default_factory=list)
    names: set[str] = field(default_factory=set)

    def reserve(self, name: str) -> str:
        self.names.add(name)
        return name

    def fresh(self, hint: str) -> str:
        base = re.sub(r"[^A-Za-z0-9_]", "_", hint).strip("_").lower() or "t"
        if not base[0].isalpha():
            base = f"t_{base}"
        if keyword.iskeyword(base) or base in ("ibis", "_") or not attribute_ok(base) and base in _TABLE_ATTRS:
            base = f"{base}_"
        name, n = base, 2
        while name in self.names:
            name, n = f"{base}_{n}", n + 1
        self.names.add(name)
        return name

    def assign(self, hint: str, expression: str) -> str:
        name = self.fresh(hint)
        self.statements.append(f"{name} = {expression}")
        return name
