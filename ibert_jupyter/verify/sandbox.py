"""AST allow-list for candidate code: only Ibis expression building gets through.

Candidates come from a model or from a user's notebook, so they are checked before they run:
no imports but Ibis, no dunder or private attributes, no reflective builtins, nothing that
reads or writes files, opens connections or executes queries (only the verifier's own
preview stage executes, with a row limit). Every rejection names the construct and its line.
"""

from __future__ import annotations

import ast
import builtins
import importlib.metadata
import types
from dataclasses import dataclass

from ibert_jupyter.errors import IbertError, Refused

ALLOWED_MODULES = frozenset(
    {
        "ibis",
        "ibis.selectors",
        "ibis.expr.datatypes",
        "ibis.expr.types",
        "ibis.expr.schema",
        "ibis.common.exceptions",
    }
)

FORBIDDEN_NAMES = frozenset(
    {
        "exec", "eval", "compile", "open", "__import__", "getattr", "setattr", "delattr",
        "hasattr", "globals", "locals", "vars", "dir", "input", "breakpoint", "help",
        "memoryview", "type", "object", "super", "classmethod", "staticmethod", "property",
        "exit", "quit", "copyright", "credits", "license", "os", "sys", "subprocess",
        "builtins", "importlib", "socket", "shutil", "pathlib", "io", "ctypes", "pickle",
        "marshal", "__builtins__", "__loader__", "__spec__",
    }
)

# Attribute names that execute queries, touch files/network/backends, or reach interpreter
# internals. Expression-building methods (filter, agg, join, to_sql, ...) stay allowed.
FORBIDDEN_ATTRIBUTES = frozenset(
    {
        # execution and export
        "execute", "to_pandas", "to_pandas_batches", "to_pyarrow", "to_pyarrow_batches",
        "to_polars", "to_torch", "to_csv", "to_parquet", "to_parquet_dir", "to_delta",
        "to_json", "to_xlsx", "to_list", "to_frame", "to_arrow", "preview", "cache",
        "visualize", "interactive",
        # backends, connections and raw SQL
        "connect", "get_backend", "set_backend", "sql", "raw_sql", "con", "disconnect",
        "interrupt", "options", "config", "attach", "detach", "load_extension",
        "register", "create_table", "create_view", "create_database", "create_catalog",
        "drop_table", "drop_view", "drop_database", "drop_catalog", "insert", "upsert",
        "truncate_table", "rename_table", "backends", "util", "common",
        # interpreter internals reachable without dunders
        "format", "format_map", "mro", "gi_frame", "gi_code", "gi_yieldfrom", "cr_frame",
        "cr_code", "ag_frame", "ag_code", "f_globals", "f_locals", "f_back", "f_builtins",
        "f_code", "tb_frame", "tb_next", "co_code", "func_globals", "func_code", "im_func",
        # expression internals that reach the backend object
        "op",
    }
)

FORBIDDEN_ATTRIBUTE_PREFIXES = ("read_", "drop_", "create_")
# expression methods that share a forbidden prefix but only build an expression
EXPRESSION_METHODS_WITH_FORBIDDEN_PREFIX = frozenset({"drop_null"})


def _backend_names() -> frozenset[str]:
    """Names of installed Ibis backends: ``ibis.duckdb`` etc. open connections."""
    try:
        return frozenset(ep.name for ep in importlib.metadata.entry_points(group="ibis.backends"))
    except Exception:  # pragma: no cover - broken metadata
        return frozenset()


FORBIDDEN_ATTRIBUTES = FORBIDDEN_ATTRIBUTES | _backend_names()

SAFE_BUILTIN_NAMES = (
    "abs", "all", "any", "bool", "dict", "enumerate", "filter", "float", "frozenset",
    "int", "isinstance", "len", "list", "map", "max", "min", "print", "range", "reversed",
    "round", "set", "slice", "sorted", "str", "sum", "tuple", "zip", "True", "False", "None",
    "ValueError", "TypeError", "KeyError", "IndexError", "Exception",
)

MAX_CONSTANT_EXPONENT = 64
MAX_CONSTANT_REPEAT = 1_000_000

_FORBIDDEN_NODES: dict[type, str] = {
    ast.ClassDef: "class definitions",
    ast.Global: "'global' statements",
    ast.Nonlocal: "'nonlocal' statements",
    ast.With: "'with' blocks",
    ast.AsyncWith: "'async with' blocks",
    ast.AsyncFunctionDef: "async functions",
    ast.AsyncFor: "'async for' loops",
    ast.Await: "'await'",
    ast.Yield: "generators ('yield')",
    ast.YieldFrom: "generators ('yield from')",
    ast.While: "'while' loops (unbounded loops are not allowed; use Ibis operations)",
    ast.Try: "'try' blocks (errors must reach the verifier)",
    ast.Delete: "'del' statements",
    # class patterns read attributes by name (``case X(get_backend=gb)``), unseen by the
    # Attribute check; Ibis code never needs pattern matching
    ast.Match: "'match' statements",
}
if hasattr(ast, "TryStar"):
    _FORBIDDEN_NODES[ast.TryStar] = "'try' blocks (errors must reach the verifier)"


@dataclass(frozen=True)
class SandboxViolation:
    message: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column + 1}: {self.message}"


class SandboxError(Refused):
    """Raised when candidate code uses a construct outside the allow-list."""

    def __init__(self, violations: list[SandboxViolation]):
        self.violations = violations
        first = violations[0]
        self.line = first.line
        self.column = first.column
        shown = "; ".join(str(v) for v in violations[:5])
        more = f" (+{len(violations) - 5} more)" if len(violations) > 5 else ""
        super().__init__(f"{shown}{more}")


class CandidateTimeout(IbertError, TimeoutError):
    """The candidate (or its preview) ran longer than its time limit.

    One class for both places it is raised (the worker's alarm, the preview's interrupt), since
    its name is the report's ``error_type``.
    """


def _is_dunder(name: str) -> bool:
    return name.startswith("__") and name.endswith("__") and len(name) > 4


def _module_allowed(module: str) -> bool:
    return module in ALLOWED_MODULES


class _Checker(ast.NodeVisitor):
    def __init__(self) -> None:
        self.violations: list[SandboxViolation] = []

    def _flag(self, node: ast.AST, message: str) -> None:
        self.violations.append(
            SandboxViolation(message, getattr(node, "lineno", 0), getattr(node, "col_offset", 0))
        )

    def generic_visit(self, node: ast.AST) -> None:
        label = _FORBIDDEN_NODES.get(type(node))
        if label is not None:
            self._flag(node, f"{label} are not allowed in Ibis candidates")
        super().generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if not _module_allowed(alias.name):
                self._flag(node, f"import of '{alias.name}' is not allowed (only Ibis modules)")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if node.level:
            self._flag(node, "relative imports are not allowed")
            return
        if not _module_allowed(module):
            self._flag(node, f"import from '{module}' is not allowed (only Ibis modules)")
            return
        for alias in node.names:
            name = alias.name
            submodule = f"{module}.{name}"
            if name == "*":
                self._flag(node, f"'from {module} import *' is not allowed")
            elif name != "_" and (name.startswith("_") or self._attribute_forbidden(name)):
                if not _module_allowed(submodule):
                    self._flag(node, f"importing '{name}' from '{module}' is not allowed")

    def visit_Name(self, node: ast.Name) -> None:
        if node.id in FORBIDDEN_NAMES or _is_dunder(node.id):
            self._flag(node, f"use of '{node.id}' is not allowed")

    @staticmethod
    def _attribute_forbidden(attr: str) -> bool:
        if attr in EXPRESSION_METHODS_WITH_FORBIDDEN_PREFIX:
            return False
        return attr in FORBIDDEN_ATTRIBUTES or attr.startswith(FORBIDDEN_ATTRIBUTE_PREFIXES)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        attr = node.attr
        if not isinstance(node.ctx, ast.Load):
            # expression code never assigns attributes; doing so patches Ibis itself
            self._flag(node, f"assigning or deleting attribute '.{attr}' is not allowed")
        if _is_dunder(attr):
            self._flag(node, f"dunder attribute '.{attr}' is not allowed")
        elif attr.startswith("_") and attr != "_":
            self._flag(node, f"private attribute '.{attr}' is not allowed")
        elif self._attribute_forbidden(attr):
            self._flag(
                node,
                f"'.{attr}' is not allowed: candidates build expressions only "
                "(no execution, I/O, backends or interpreter internals); "
                f"for a column named {attr!r} write t[{attr!r}]",
            )
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str) and "__" in node.value and any(
            _is_dunder(part) for part in node.value.replace(".", " ").split()
        ):
            self._flag(node, "string constants naming dunder attributes are not allowed")

    def visit_BinOp(self, node: ast.BinOp) -> None:
        if isinstance(node.op, ast.Pow):
            exponent = _static_int(node.right)
            if exponent is not None and abs(exponent) > MAX_CONSTANT_EXPONENT:
                self._flag(node, f"exponent {exponent} is too large")
        if isinstance(node.op, (ast.Mult, ast.LShift)):
            for side in (node.left, node.right):
                value = _static_int(side)
                if value is not None and abs(value) > MAX_CONSTANT_REPEAT:
                    self._flag(node, f"constant {value} is too large to multiply by")
        self.generic_visit(node)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        if _is_dunder(node.name):
            self._flag(node, f"defining '{node.name}' is not allowed")
        self.generic_visit(node)


def _static_int(node: ast.AST) -> int | None:
    """Value of a constant integer expression (bounded), else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, int) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        value = _static_int(node.operand)
        return -value if value is not None else None
    if isinstance(node, ast.BinOp):
        left, right = _static_int(node.left), _static_int(node.right)
        if left is None or right is None:
            return None
        if isinstance(node.op, ast.Pow):
            return left ** min(abs(right), MAX_CONSTANT_EXPONENT + 1) if abs(left) < 2**32 else None
        if isinstance(node.op, ast.Mult):
            return left * right
        if isinstance(node.op, ast.Add):
            return left + right
        if isinstance(node.op, ast.LShift):
            return left << min(right, 256)
    return None


def find_violations(tree: ast.AST) -> list[SandboxViolation]:
    checker = _Checker()
    checker.visit(tree)
    return sorted(checker.violations, key=lambda v: (v.line, v.column))


def check_tree(tree: ast.AST) -> None:
    """Raise SandboxError listing every disallowed construct in ``tree``."""
    violations = find_violations(tree)
    if violations:
        raise SandboxError(violations)


class ModuleProxy:
    """Read-only view of an allowed Ibis module for candidate code.

    Static checks cannot see where a module attribute chain leads (``ibis.x.y.Path``), so
    module access is also checked at run time: only allowed Ibis modules and objects that
    Ibis itself defines (or plain data) come back.
    """

    __slots__ = ("_module",)

    def __init__(self, module: types.ModuleType):
        object.__setattr__(self, "_module", module)

    def __getattr__(self, name: str):
        module = object.__getattribute__(self, "_module")
        if name.startswith("_") and name != "_":
            raise AttributeError(f"'{module.__name__}.{name}' is not available in candidates")
        value = getattr(module, name)
        if isinstance(value, types.ModuleType):
            if value.__name__ in ALLOWED_MODULES or value.__name__ in _PASSTHROUGH_PACKAGES:
                return ModuleProxy(value)
            raise AttributeError(f"module '{value.__name__}' is not available in candidates")
        origin = getattr(value, "__module__", None) or ""
        if origin and not origin.startswith("ibis") and not isinstance(value, _PLAIN_DATA):
            raise AttributeError(f"'{module.__name__}.{name}' is not available in candidates")
        return value

    def __setattr__(self, name, value):
        raise AttributeError("Ibis modules are read-only in candidates")

    def __repr__(self) -> str:
        return f"<ibis module {object.__getattribute__(self, '_module').__name__}>"


# Intermediate packages that must be traversable to reach allowed modules (ibis.expr.types).
_PASSTHROUGH_PACKAGES = frozenset({"ibis.expr", "ibis.common"})
_PLAIN_DATA = (str, int, float, bool, tuple, frozenset, type(None))


def _guarded_import(name, globals=None, locals=None, fromlist=(), level=0):
    if level or name not in ALLOWED_MODULES:
        raise ImportError(f"import of '{name}' is not allowed in Ibis candidates")
    module = builtins.__import__(name, globals, locals, fromlist, level)
    return ModuleProxy(module)


_SAFE_BUILTINS: dict[str, object] = {
    **{name: getattr(builtins, name) for name in SAFE_BUILTIN_NAMES},
    "__import__": _guarded_import,
}


def safe_builtins() -> dict[str, object]:
    """The only builtins candidate code can see (a fresh copy per run)."""
    return dict(_SAFE_BUILTINS)
