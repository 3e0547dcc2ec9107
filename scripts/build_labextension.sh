#!/usr/bin/env bash
# Build the iBERT JupyterLab extension (labextension/) and link it into the venv's
# share/jupyter/labextensions/ibert-jupyter. Idempotent; skips with a message without node/npm.
#   usage: scripts/build_labextension.sh [VENV_DIR]   (default: .venv)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$(cd "${1:-$ROOT/.venv}" && pwd)"  # absolute: we cd below
EXT="$ROOT/labextension"
OUT="$ROOT/ibert_jupyter/labextension_static"
DEST="$VENV/share/jupyter/labextensions/ibert-jupyter"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "build_labextension: node/npm not found; skipping the iBERT JupyterLab sidebar (install nodejs >= 18 and npm, then rerun)." >&2
  exit 0
fi
if [ ! -x "$VENV/bin/jupyter" ]; then
  echo "build_labextension: no jupyter in $VENV; install the Python package first." >&2
  exit 1
fi

cd "$EXT"
# package-lock.json pins everything; `npm ci` is reproducible and works from npm's cache.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --prefer-offline
fi
npx tsc
# Build against the *installed* JupyterLab's core package.json (its staging dir), so the shared
# singleton versions match the running lab. (`jupyter labextension build` in lab 4.6 needs a
# network fetch of @jupyterlab/core-meta; calling the builder directly does not.)
CORE="$("$VENV/bin/python" -c 'import jupyterlab, os; print(os.path.join(os.path.dirname(jupyterlab.__file__), "staging"))')"
node node_modules/@jupyterlab/builder/lib/build-labextension.js --core-path "$CORE" .

mkdir -p "$(dirname "$DEST")"
if [ -L "$DEST" ] || [ ! -e "$DEST" ]; then
  ln -sfn "$OUT" "$DEST"
else
  rm -rf "$DEST" && ln -s "$OUT" "$DEST"
fi
echo "build_labextension: built $OUT and linked it at $DEST"
"$VENV/bin/jupyter" labextension list 2>&1 | grep -i "ibert-jupyter" || {
  echo "build_labextension: jupyter does not list ibert-jupyter" >&2
  exit 1
}
