"""Multi-process entry point: ``torchrun --nproc-per-node N -m ibert_jupyter.training.launch --config run.json``.

Also works under ``accelerate launch -m ibert_jupyter.training.launch``. The JSON holds
TrainConfig fields; every process runs ``train`` and ``accelerate`` wires them (DDP: gloo on
CPUs, NCCL on GPUs). Rank 0 writes the adapter, checkpoints, metrics and W&B run.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ibert_jupyter.training.launch")
    parser.add_argument("--config", required=True, help="JSON file of TrainConfig fields")
    args = parser.parse_args(argv)
    from ibert_jupyter.training import TrainConfig, train

    config = TrainConfig.from_params(json.loads(Path(args.config).read_text()))
    result = train(config)
    import os

    if os.environ.get("RANK", "0") == "0":
        print(json.dumps(result.summary()))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
