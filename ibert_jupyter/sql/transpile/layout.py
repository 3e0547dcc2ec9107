"""Line layout for generated code: one method call per line, long argument lists split.

The rules build each statement on one line; this pass makes it read like code a person
wrote (black-like, without depending on a formatter at run time).
"""

from __future__ import annotations

LINE = 88
_OPEN, _CLOSE = "([{", ")]}"


def _scan(text: str):
    """Yield (index, char, depth) outside string literals."""
    depth, quote, i = 0, None, 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 2
                continue
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        else:
            if ch in _CLOSE:
                depth -= 1
            yield i, ch, depth
            if ch in _OPEN:
                depth += 1
        i += 1


def _chain_segments(expr: str) -> list[str]:
    """Split ``a.f(x).g(y)`` into ``a.f(x)``, ``.g(y)`` at top-level calls."""
    cuts = [i for i, ch, depth in _scan(expr) if ch == "." and depth == 0 and i > 0 and expr[i - 1] == ")"]
    if not cuts:
        return [expr]
    bounds = [0, *cuts, len(expr)]
    return [expr[a:b] for a, b in zip(bounds, bounds[1:])]


def _split_args(segment: str, indent: str) -> str:
    """``.agg(a=1, b=2)`` → one argument per line when the call is too long."""
    open_at = segment.find("(")
    if open_at < 0 or not segment.endswith(")") or len(indent) + len(segment) <= LINE:
        return segment
    inner = segment[open_at + 1 : -1]
    parts, start = [], 0
    for i, ch, depth in _scan(inner):
        if ch == "," and depth == 0:
            parts.append(inner[start:i].strip())
            start = i + 1
    parts.append(inner[start:].strip())
    parts = [p for p in parts if p]
    if len(parts) == 1 and parts[0].startswith("[") and parts[0].endswith("]"):
        items = _split_args(f"{segment[:open_at]}({parts[0][1:-1]})", indent + "    ")
        if "\n" in items:  # a long list argument: one item per line inside the brackets
            body = items[items.index("(") + 1 : items.rindex(")")]
            return f"{segment[: open_at + 1]}\n{indent}    [{body}]\n{indent})"
        return segment
    if len(parts) < 2:
        return segment
    body = "".join(f"\n{indent}    {p}," for p in parts)
    return f"{segment[: open_at + 1]}{body}\n{indent})"


def layout_statement(statement: str) -> str:
    """Lay out ``name = expression`` or a bare expression."""
    if len(statement) <= LINE or "\n" in statement:
        return statement
    target, expr = "", statement
    for i, ch, depth in _scan(statement):
        if ch == "=" and depth == 0 and statement[i - 1] != "=" and statement[i + 1] != "=" \
                and statement[i - 1] not in "!<>":
            target, expr = statement[: i + 1] + " ", statement[i + 1 :].strip()
            break
    segments = _chain_segments(expr)
    if len(segments) == 1:
        return target + _split_args(expr, "")
    lines = "".join(f"\n    {_split_args(seg, '    ')}" for seg in segments)
    return f"{target}({lines}\n)"


def layout(statements: list[str]) -> str:
    return "\n".join(layout_statement(s) for s in statements)
