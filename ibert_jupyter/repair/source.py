"""Minimal-diff source edits: replace AST nodes by their exact text spans.

Fixes rewrite only the nodes they must, so the user's formatting and comments survive and
the diff shown in the notebook is as small as the fix.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Iterable, Iterator


@dataclass(frozen=True)
class Edit:
    start: int
    end: int
    text: str


class Source:
    """Parsed cell code with helpers to locate and replace nodes."""

    def __init__(self, code: str):
        self.code = code
        self.tree = ast.parse(code)
        self._line_starts = [0]
        for line in code.splitlines(keepends=True):
            self._line_starts.append(self._line_starts[-1] + len(line))
        self._lines = code.splitlines(keepends=True)

    def offset(self, line: int, col_bytes: int) -> int:
        """Character offset of an AST (line, UTF-8 byte column) position."""
        text = self._lines[line - 1] if line - 1 < len(self._lines) else ""
        col = len(text.encode("utf-8")[:col_bytes].decode("utf-8", errors="ignore"))
        return self._line_starts[line - 1] + col

    def span(self, node: ast.AST) -> tuple[int, int]:
        return (
            self.offset(node.lineno, node.col_offset),
            self.offset(node.end_lineno, node.end_col_offset),
        )

    def text(self, node: ast.AST) -> str:
        start, end = self.span(node)
        return self.code[start:end]

    def replace(self, node: ast.AST, text: str) -> Edit:
        start, end = self.span(node)
        return Edit(start, end, text)

    def apply(self, edits: Iterable[Edit]) -> str:
        """New code with non-overlapping ``edits`` applied (overlaps keep the outermost)."""
        chosen: list[Edit] = []
        for edit in sorted(edits, key=lambda e: (e.start, -e.end)):
            if chosen and edit.start < chosen[-1].end:
                continue
            chosen.append(edit)
        code = self.code
        for edit in reversed(chosen):
            code = code[: edit.start] + edit.text + code[edit.end :]
        return code

    def walk(self) -> Iterator[ast.AST]:
        return ast.walk(self.tree)

    def statement_at(self, line: int | None) -> ast.stmt | None:
        """The top-level statement that spans ``line``."""
        if line is None:
            return None
        for stmt in self.tree.body:
            if stmt.lineno <= line <= (stmt.end_lineno or stmt.lineno):
                return stmt
        return None

    def nodes_on(self, line: int | None) -> list[ast.AST]:
        """Every node of the statement spanning ``line`` (whole code when unknown)."""
        stmt = self.statement_at(line)
        return list(ast.walk(stmt)) if stmt is not None else list(self.walk())

    def prefix_before(self, stmt: ast.stmt) -> str:
        """The code of every top-level statement before ``stmt``."""
        body = [s for s in self.tree.body if s.lineno < stmt.lineno]
        return "\n".join(self.text(s) for s in body)


def assigned_names(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


def parenthesize(text: str) -> str:
    """Wrap ``text`` in parentheses unless it is already atomic."""
    try:
        node = ast.parse(text, mode="eval").body
    except SyntaxError:
        return f"({text})"
    if isinstance(node, (ast.Name, ast.Attribute, ast.Call, ast.Subscript, ast.Constant)):
        return text
    return f"({text})"
