"""Numpydoc docstrings cut into the pieces retrieval reads: prose, sections, sentences.

One parser for the views (``views.py``), the dev queries (``tuning/weights.py``), the fine-tuning
pairs (``training/embedder.py``) and other packages' docs (``peer_docs.py``), so a section header
("Parameters" over a dashed line) never passes for a sentence of prose: a body that *starts*
with a section is cut there too.
"""

from __future__ import annotations

import re

SECTION = re.compile(
    r"^[ \t]*(Parameters|Other Parameters|Returns|Yields|Raises|Warns|See Also|Notes|References|Examples?|Attributes|"
    r"Methods)[ \t]*\n[ \t]*-{3,}[ \t]*$\n?",
    re.MULTILINE,
)
_MARKUP = (
    (re.compile(r":::\s*\{[^}]*\}\s*(?:#+\s*)?"), ""),  # Quarto callout openers
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),  # links keep their text
    (re.compile(r"[`*]"), ""),
)


def flat(text: str) -> str:
    """Whitespace runs (newlines included) as one space."""
    return re.sub(r"\s+", " ", text).strip()


def clean(text: str) -> str:
    """Markdown links, code marks and callouts removed, whitespace flattened."""
    for pattern, repl in _MARKUP:
        text = pattern.sub(repl, text)
    return flat(text)


def sections(doc: str) -> dict[str, str]:
    """``{"": prose before the first section, "Parameters": its text, ...}``."""
    pieces = SECTION.split(doc)
    out = {"": pieces[0]}
    for name, text in zip(pieces[1::2], pieces[2::2]):
        out.setdefault(name, text)
    return out


def prose(doc: str) -> str:
    """The text before the first section header."""
    return SECTION.split(doc, maxsplit=1)[0]


def body(doc: str) -> str:
    """The docstring without its summary paragraph."""
    parts = doc.split("\n\n", 1)
    return parts[1] if len(parts) == 2 else ""


def sentences(doc: str) -> list[str]:
    """Sentences of the prose (20-200 characters), raw: Markdown is kept for holding them out verbatim."""
    text = flat(prose(doc))
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if 20 <= len(s.strip()) <= 200]


def described(section: str, cleaned: bool = True) -> list[str]:
    """First sentence of each ``name\\n    description`` entry of a section (raw Markdown unless ``cleaned``)."""
    out, current = [], []
    for line in section.splitlines():
        if line.startswith((" ", "\t")):
            current.append(line.strip())
        elif line.strip():
            if current:
                out.append(" ".join(current))
            current = []
    if current:
        out.append(" ".join(current))
    return [re.split(r"(?<=[.!?])\s+", clean(d) if cleaned else flat(d))[0] for d in out]
