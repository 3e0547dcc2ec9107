"""Search hits as plain text: one renderer for the terminal (`ibert search`) and the magic's plain repr."""

from __future__ import annotations


def hits_text(query: str, hits: list) -> str:
    """Numbered hits: signature and kind, summary, whose words matched (if not Ibis's own), source path."""
    lines = [f"{i}. {h.public_name}{h.signature}  [{h.kind}]\n   {h.summary}\n"
             + (f"   matched {h.matched}\n" if h.matched else "") + f"   {h.path}:{h.line}"
             for i, h in enumerate(hits, 1)]
    return "\n".join(lines) or f"no Ibis symbol matches {query!r}"
