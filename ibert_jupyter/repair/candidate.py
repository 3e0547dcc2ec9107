"""A proposed fix before and after the verifier has looked at it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Candidate:
    """Fixed code plus the rule that produced it and why (shown to the user).

    ``preserves_meaning``: the edit keeps what the code means (an idiom rewrite, a
    near-identical rename, an import, a cast the error demands). Only chains of such edits
    may be called *verified*; any other edit (another column, a join, a different aggregate)
    is a guess the user must check, however well it runs.
    """

    code: str
    rule: str
    explanation: str
    preserves_meaning: bool = True
