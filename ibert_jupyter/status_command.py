"""``ibert status``: print what iBERT knows about itself as JSON."""

from __future__ import annotations

import json


def add_arguments(parser) -> None:
    pass


def run(args) -> int:
    from ibert_jupyter.status import collect_status

    print(json.dumps(collect_status(), indent=2))
    return 0
