#!/usr/bin/env bash
# The GPU record of issue 23: train_adapter.ipynb executed by papermill (`ibert train`) on a RANDOMLY
# INITIALISED Devstral-Small-2507-shaped model, QLoRA (NF4), 200 steps on an `ibert data build` folder,
# then the adapter loaded through transformers+peft and the fused decoder (check_adapter).
# Run from the repo root on the GPU machine with the wheels unpacked on PYTHONPATH; copies the record to $1.
set -euo pipefail
OUT_DIR=${1:?output folder}
RUN=.runs/notebook-qlora
rm -rf "$RUN"
python3 -m ibert_jupyter.cli train --dataset "${DATASET:-.data/ibert-data}" --output "$RUN" \
  --base-model random:devstral-small-2507 --quantization nf4 --steps 200 --wandb-mode offline --check-adapter \
  -p seq_len 2048 -p learning_rate 2e-4 -p warmup_steps 10 -p eval_every 50 -p eval_rows 4 -p save_every 100 \
  -p verify_examples 4 -p max_new_tokens 48 -p run_name notebook-qlora-random-devstral || echo "ibert train failed: rc=$?"
cp -f "$RUN"/train_adapter.ipynb "$RUN"/summary.json "$RUN"/metrics.jsonl "$RUN"/run_info.json \
   "$RUN"/wandb_summary.json "$RUN"/adapter/adapter_config.json "$OUT_DIR"/ || true
ls -la "$RUN"/adapter "$RUN"/wandb/*/ > "$OUT_DIR"/run_files.txt || true
