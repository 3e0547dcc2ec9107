#!/usr/bin/env bash
# Runs the test suite (all but GPU tests by default) with the repo's tool venvs on PATH.
set -uo pipefail
cd "$(dirname "$0")/.."
export IBERT_SEMGREP="${IBERT_SEMGREP:-$PWD/.venv-semgrep/bin/semgrep}"
export IBERT_SERENA_PYTHON="${IBERT_SERENA_PYTHON:-$PWD/.venv-serena/bin/python}"
export SEMGREP_ENABLE_VERSION_CHECK=0 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 WANDB_MODE=offline
.venv/bin/python -m pytest "$@"
rc=$?
# pytest exits 5 when nothing was collected: that is a failure for CI.
exit $rc
