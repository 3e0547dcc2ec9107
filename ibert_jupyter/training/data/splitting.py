"""Train/dev/test by (schema, template) group, so no program family crosses splits.

Every example derived from one program (its NL, SQL, FIM and repair renderings) shares the
program's group; near-twin programs were removed before, so no near-twin crosses either.
"""

from __future__ import annotations

import hashlib
from typing import Iterable

SPLITS = ("train", "dev", "test")


def group_key(schema: str, template: str) -> str:
    return f"{schema}|{template}"


def assign(groups: Iterable[str], seed: int, dev: float = 0.05, test: float = 0.05) -> dict[str, str]:
    """group -> split, by a seeded hash of the group (stable when groups are added)."""
    out = {}
    for g in sorted(set(groups)):
        u = int(hashlib.sha1(f"{seed}:{g}".encode()).hexdigest()[:12], 16) / float(1 << 48)
        out[g] = "test" if u < test else "dev" if u < test + dev else "train"
    return out
