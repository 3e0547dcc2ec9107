"""Pack examples into rows without padding; attention and loss stay inside each example.

A row concatenates whole examples (first-fit decreasing, so few tokens are wasted). For each
row we keep the example lengths: positions restart at 0 for every example (RoPE sees each one
alone) and ``attention.py`` attends within each example's span only.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Sequence

from ibert_jupyter.training.dataset import TokenizedExample

IGNORE = -100


@dataclass(frozen=True)
class PackedRow:
    ids: tuple[int, ...]
    targets: tuple[int, ...]  # next-token target at each position, IGNORE outside assistant text
    lengths: tuple[int, ...]  # example lengths, in order


@dataclass(frozen=True)
class PackResult:
    rows: tuple[PackedRow, ...]
    dropped: int  # examples longer than seq_len (never truncated: that would cut their targets)


def targets_for(example: TokenizedExample) -> list[int]:
    """targets[t] = ids[t+1] where ids[t+1] is an assistant token, else IGNORE."""
    ids = example.ids
    out = [IGNORE] * len(ids)
    for t in range(max(example.n_prompt - 1, 0), len(ids) - 1):
        out[t] = ids[t + 1]
    return out


def pack(examples: Sequence[TokenizedExample], seq_len: int, seed: int = 0) -> PackResult:
    """First-fit decreasing into rows of at most ``seq_len`` tokens; rows come out shuffled."""
    fitting = [e for e in examples if len(e.ids) <= seq_len and len(e.ids) > e.n_prompt]
    dropped = len(examples) - len(fitting)
    bins: list[list[TokenizedExample]] = []
    space: list[int] = []
    for example in sorted(fitting, key=lambda e: len(e.ids), reverse=True):
        n = len(example.ids)
        for i, free in enumerate(space):
            if free >= n:
                bins[i].append(example)
                space[i] -= n
                break
        else:
            bins.append([example])
            space.append(seq_len - n)
    rows = []
    for members in bins:
        ids: list[int] = []
        targets: list[int] = []
        for example in members:
            ids.extend(example.ids)
            targets.extend(targets_for(example))
        rows.append(PackedRow(tuple(ids), tuple(targets), tuple(len(e.ids) for e in members)))
    random.Random(seed).shuffle(rows)
    return PackResult(tuple(rows), dropped)


def collate(rows: Sequence[PackedRow], device=None) -> dict:
    """One [1, total] batch of concatenated rows: ids, per-example positions, targets, boundaries."""
    import torch

    ids: list[int] = []
    targets: list[int] = []
    positions: list[int] = []
    bounds = [0]
    for row in rows:
        ids.extend(row.ids)
        targets.extend(row.targets)
        for n in row.lengths:
            positions.extend(range(n))
            bounds.append(bounds[-1] + n)
    as_tensor = lambda values: torch.tensor([values], dtype=torch.long, device=device)  # noqa: E731
    return {
        "input_ids": as_tensor(ids),
        "position_ids": as_tensor(positions),
        "targets": as_tensor(targets),
        "cu_seqlens": tuple(bounds),
    }
