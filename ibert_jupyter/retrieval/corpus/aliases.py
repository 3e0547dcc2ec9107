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

from ibert_jupyter.errors import IbertInputError

FILE = Path(__file__).with_name("data") / "aliases.json"
MAX_WORDS = 8


class AliasFileError(IbertInputError):
    """The glossary is not a JSON object of symbol name -> list of short phrases."""


def read(path: Path | None = None) -> tuple[dict[str, list[str]], str]:
    """(glossary, fingerprint) from one read of the file (default: the shipped one), so an index records
    the hash of exactly the phrases it embedded. Checked: every value a list of 1 to ``MAX_WORDS``-word phrases;
    the fingerprint is a short hash that the manifest keeps, so that an edited glossary rebuilds the index."""
    path = path or FILE
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise AliasFileError(f"cannot read the glossary {path}: {exc.strerror or exc}") from exc
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AliasFileError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise AliasFileError(f"{path}: expected an object of symbol name -> phrases, got {type(data).__name__}")
    for name, phrases in data.items():
        if not isinstance(phrases, list) or not phrases:
            raise AliasFileError(f"{path}: {name}: expected a non-empty list of phrases")
        for phrase in phrases:
            if not isinstance(phrase, str) or not phrase.strip() or len(phrase.split()) > MAX_WORDS:
                raise AliasFileError(f"{path}: {name}: {phrase!r} is not a phrase of 1 to {MAX_WORDS} words")
    return data, hashlib.sha1(raw).hexdigest()[:12]


def load(path: Path | None = None) -> dict[str, list[str]]:
    """The glossary, checked (``read``)."""
    return read(path)[0]


def fingerprint(path: Path | None = None) -> str:
    """The glossary's hash, checked (``read``)."""
    return read(path)[1]


def symbol_aliases(chunk_ids: list[str], glossary: dict[str, list[str]]) -> dict[str, list[str]]:
    """``{chunk id: phrases}`` for the glossary entries the index has; the others are dropped."""
    present = set(chunk_ids)
    return {name: [p.strip() for p in phrases] for name, phrases in glossary.items() if name in present}
