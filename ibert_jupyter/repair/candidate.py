"""A proposed fix before and after the verifier has looked at it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Candidate:
    """Fixed code plus the rule that produced it and why (shown to the user)."""

    code: str
    rule: str
    explanation: str
