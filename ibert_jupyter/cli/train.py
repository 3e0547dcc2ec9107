"""`ibert train`: run training_notebooks/train_adapter.ipynb with papermill; the executed notebook is the record.

Parameters go into the notebook's ``parameters`` cell (papermill), so the run that `ibert train`
makes and one made by executing the notebook by hand are the same code. Multi-GPU runs use
``torchrun -m ibert_jupyter.training.launch`` instead (one process per GPU).
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from pathlib import Path

NOTEBOOK = "train_adapter.ipynb"
NOTEBOOK_ONLY = ("check_adapter",)  # notebook parameters that are not TrainConfig fields


def notebook_template() -> Path:
    """The repository's notebook (an editable install keeps training_notebooks/ beside the package)."""
    here = Path(__file__).resolve()
    for folder in (here.parents[2] / "training_notebooks", here.parents[1] / "training"):
        if (folder / NOTEBOOK).is_file():
            return folder / NOTEBOOK
    raise SystemExit(f"cannot find {NOTEBOOK}: pass --notebook PATH")


def _value(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", required=True, help="folder written by `ibert data build`")
    parser.add_argument("--output", required=True, help="run folder: adapter, checkpoints, metrics, W&B, notebook")
    parser.add_argument("--base-model", help="Devstral checkpoint dir or hub id (default: Devstral-Small-2507)")
    parser.add_argument("--quantization", choices=("nf4", "bf16"), help="nf4 = QLoRA (default), bf16 = LoRA")
    parser.add_argument("--steps", type=int, help="optimizer steps (default: one epoch)")
    parser.add_argument("--wandb-mode", choices=("offline", "online", "disabled"))
    parser.add_argument("-p", "--param", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                        help="any other TrainConfig field, e.g. -p lora_r 32 -p learning_rate 1e-4")
    parser.add_argument("--check-adapter", action="store_true",
                        help="after training, load the adapter through transformers+peft and the fused decoder")
    parser.add_argument("--notebook", help="notebook to execute (default: training_notebooks/train_adapter.ipynb)")
    parser.add_argument("--kernel", help="Jupyter kernel name (default: the notebook's)")


def parameters(args) -> dict:
    params = {"dataset": str(Path(args.dataset).expanduser().resolve()),
              "output_dir": str(Path(args.output).expanduser().resolve())}
    for flag, name in (("base_model", "base_model"), ("quantization", "quantization"), ("steps", "max_steps"),
                       ("wandb_mode", "wandb_mode")):
        if getattr(args, flag) is not None:
            params[name] = getattr(args, flag)
    if getattr(args, "check_adapter", False):
        params["check_adapter"] = True
    for name, value in args.param:
        params[name] = _value(value)
    from ibert_jupyter.training.config import TrainConfig

    TrainConfig.from_params({k: v for k, v in params.items() if k not in NOTEBOOK_ONLY})  # fails before a kernel starts
    return params


def run(args) -> int:
    import papermill

    params = parameters(args)
    output = Path(params["output_dir"])
    output.mkdir(parents=True, exist_ok=True)
    executed = output / NOTEBOOK
    template = Path(args.notebook) if args.notebook else notebook_template()
    print(f"ibert train: executing {template} -> {executed}", file=sys.stderr)
    try:
        papermill.execute_notebook(str(template), str(executed), parameters=params, progress_bar=True,
                                   log_output=True, kernel_name=args.kernel, cwd=str(output))
    except papermill.PapermillExecutionError as exc:
        print(f"ibert train: the notebook failed in cell {exc.exec_count}: {exc.ename}: {exc.evalue}\n"
              f"  the executed notebook (with the traceback) is {executed}", file=sys.stderr)
        return 1
    summary = output / "summary.json"
    if summary.is_file():
        print(json.dumps(json.loads(summary.read_text())))
    return 0
