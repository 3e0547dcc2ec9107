"""A deterministic describer: a program's intent → an English request, in several phrasings.

No model is involved: the same intent and seed always give the same sentence, and different
seeds vary the wording (imperative, "using X, ...", terse notebook-comment style, question),
the verbs, and which of each clause's alternatives is used.
"""

from __future__ import annotations

import random
from typing import Sequence

from ibert_jupyter.training.data.programs import Clause

MAIN_KINDS = ("metric", "window", "select", "setop", "nulls", "dates", "mutate", "distinct", "nested", "having", "note")
VERBS = ("Show", "Give me", "List", "Compute", "Find", "Return", "Get", "I need", "Build an expression for")
STYLES = ("imperative", "using", "terse", "question")


def _pick(rng: random.Random, clause: Clause) -> str:
    return rng.choice(clause.phrases)


def describe(intent: Sequence[Clause], rng: random.Random, style: str | None = None) -> str:
    """One request for ``intent``; ``style`` forces one of STYLES."""
    by_kind: dict[str, list[str]] = {}
    for clause in intent:
        by_kind.setdefault(clause.kind, []).append(_pick(rng, clause))
    source = by_kind.get("source", ["the table"])[0]
    main = "; ".join(p for k in MAIN_KINDS for p in by_kind.get(k, []))
    group = " ".join(by_kind.get("group", []))
    filters = " and ".join(by_kind.get("filter", []))
    tail = "".join(f", {p}" for k in ("order", "limit") for p in by_kind.get(k, []))
    style = style or rng.choice(STYLES)
    where = ""
    if filters:
        where = rng.choice([f" where {filters}", f", only for rows where {filters}", f" (filter: {filters})", f" restricted to {filters}"])
    body = f"{main} {group}".strip()
    if style == "question" and body:
        then = f" Results{tail[1:]}." if tail else ""
        if body.split()[0] in ("how", "which", "whether", "what"):
            return f"{body[0].upper() + body[1:]} in {source}{where}?{then}"
        opener = rng.choice(["What is", "Can you show", "How do I get"] if body.startswith("the ") else ["Can you show", "How do I get", "How would I compute"])
        return f"{opener} {body} in {source}{where}?{then}"
    if style == "using" and body:
        verb = rng.choice(VERBS)
        verb = verb if verb.startswith("I ") else verb[0].lower() + verb[1:]
        return f"Using {source}, {verb} {body}{where}{tail}."
    if style == "terse":
        head = source[0].upper() + source[1:]
        return f"{head}: {body}{where}{tail}" if body else f"{head}{where}{tail}"
    verb = rng.choice(VERBS)
    if body:
        return f"{verb} {body} from {source}{where}{tail}."
    return f"{verb} {source}{where}{tail}."
