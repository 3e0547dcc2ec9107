#!/usr/bin/env bash
# Installs iBERT and its tools from this repository's own files, offline-friendly.
#   .venv          iBERT, JupyterLab, the model runtime (torch CPU/GPU), tests
#   .venv-semgrep  semgrep (pins a click that conflicts with serena)
#   .venv-serena   serena-agent's solidlsp + pyright, used by `ibert index` for the symbol graph
# Re-running is cheap: each step is skipped when its stamp is newer than its inputs.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
quiet() { grep -v -e "is ignored: it is neither a file nor a directory" || true; }

stamp_ok() { [ -f "$1" ] && [ "$1" -nt pyproject.toml ] && [ "$1" -nt scripts/install.sh ]; }

if ! stamp_ok .venv/.ibert-installed; then
  echo "[install] iBERT into .venv"
  [ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
  .venv/bin/pip install -q --upgrade pip 2>&1 | quiet
  # torch first, pinned, so nothing pulls a multi-GB CUDA build on CPU machines
  .venv/bin/pip install -q "torch==${IBERT_TORCH_VERSION:-2.13.0}" 2>&1 | quiet
  .venv/bin/pip install -q -e ".[model,training,test]" 2>&1 | quiet
  # a wheel install enables the server extension through its data files; editable installs
  # don't ship data files, so place the same file in this environment
  mkdir -p .venv/etc/jupyter/jupyter_server_config.d
  cp jupyter-config/jupyter_server_config.d/ibert_jupyter.json .venv/etc/jupyter/jupyter_server_config.d/
  touch .venv/.ibert-installed
fi

if ! stamp_ok .venv-semgrep/.installed; then
  echo "[install] semgrep into .venv-semgrep"
  [ -x .venv-semgrep/bin/python ] || "$PYTHON" -m venv .venv-semgrep
  .venv-semgrep/bin/pip install -q "semgrep>=1.100,<1.185" 2>&1 | quiet
  touch .venv-semgrep/.installed
fi

if ! stamp_ok .venv-serena/.installed; then
  echo "[install] serena (solidlsp) + pyright into .venv-serena"
  [ -x .venv-serena/bin/python ] || "$PYTHON" -m venv .venv-serena
  .venv-serena/bin/pip install -q "serena-agent==2.1.0" "pyright" 2>&1 | quiet
  touch .venv-serena/.installed
fi
# JupyterLab sidebar: build + link into .venv (skips itself when node/npm are missing)
bash scripts/build_labextension.sh .venv

# Browser tests drive Debian chromium (no playwright browser download)
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "[install] chromium (Debian) for the browser tests"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
echo "[install] done"
