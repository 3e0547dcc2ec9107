"""What users of SQL, pandas, dplyr, Spark and Excel call an Ibis operation: a curated glossary.

Ibis's docstrings name an operation in Ibis's words (``Table.union``: "Compute the multiset
(or set) union of multiple table expressions"); users arrive with their own ("concatenate
tables vertically", "bind_rows", "UNION ALL"). The installed packages do not hold that vocabulary, so it ships as
data: ``data/aliases.json`` maps a symbol's qualified name to a few short phrases (553 symbols,
about 2,000 phrases for Ibis 12.0). It was written from what each symbol does and how other
tools name it, by an author who never saw the benchmark questions; then every phrase that
resembles a benchmark question (token Jaccard >= 0.6, the rule the fine-tuning pairs follow)
was dropped, and a test keeps it so. ``evaluation/data/README.md`` has the whole story,
including a second question set written alongside by someone who never saw the glossary.

Each phrase becomes an ``alias`` view of its symbol (``views.py``): embedded once at index
build, matched by similarity like the SQL-function and peer-method views. A name that the
installed Ibis no longer has is skipped, and a symbol new to it simply has no aliases, so
the glossary can lag Ibis without ever pointing at something that is not there.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

FILE = Path(__file__).with_name("data") / "aliases.json"
MAX_WORDS = 8


class AliasFileError(ValueError):
    """The glossary is not a JSON object of symbol name -> list of short phrases."""


def load(path: Path | None = None) -> dict[str, list[str]]:
    """The glossary (default: the shipped one), checked: every value a list of 1 to ``MAX_WORDS``-word phrases."""
    path = path or FILE
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise AliasFileError(f"cannot read the glossary {path}: {exc.strerror or exc}") from exc
    except json.JSONDecodeError as exc:
        raise AliasFileError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise AliasFileError(f"{path}: expected an object of symbol name -> phrases, got {type(data).__name__}")
    for name, phrases in data.items():
        if not isinstance(phrases, list) or not phrases:
            raise AliasFileError(f"{path}: {name}: expected a non-empty list of phrases")
        for phrase in phrases:
            if not isinstance(phrase, str) or not phrase.strip() or len(phrase.split()) > MAX_WORDS:
                raise AliasFileError(f"{path}: {name}: {phrase!r} is not a phrase of 1 to {MAX_WORDS} words")
    return data


def fingerprint(path: Path | None = None) -> str:
    """Short hash of the glossary (checked: ``load``), recorded in the manifest so that an edited glossary
    rebuilds the index."""
    path = path or FILE
    load(path)
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()[:12]


def symbol_aliases(chunk_ids: list[str], glossary: dict[str, list[str]]) -> dict[str, list[str]]:
    """``{chunk id: phrases}`` for the glossary entries the index has; the others are dropped."""
    present = set(chunk_ids)
    return {name: [p.strip() for p in phrases] for name, phrases in glossary.items() if name in present}
