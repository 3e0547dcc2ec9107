"""``ibert demo``: build the demo database and notebook, then start JupyterLab on it.

``--execute`` runs the notebook headlessly with papermill instead and exits non-zero if
any cell fails (cells tagged ``raises-exception`` are expected to fail).

The tour searches the installed Ibis's API, so the retrieval index is built first when it
is missing or outdated (``ibert index``, with its progress on stderr; a minute or two once per
Ibis version). ``--no-index`` skips that; the search cell then says how to build it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ibert_jupyter.demo.database import build_demo_database
from ibert_jupyter.demo.notebook import write_demo_notebook

NOTEBOOK_NAME = "ibert_tour.ipynb"


def add_arguments(parser) -> None:
    parser.add_argument("--dir", default="ibert-demo", help="folder for the database and notebook")
    parser.add_argument("--scale", type=float, default=0.01, help="TPC-H scale factor")
    parser.add_argument("--execute", action="store_true", help="run the notebook headlessly and exit")
    parser.add_argument("--port", type=int, default=8888, help="JupyterLab port")
    parser.add_argument("--no-browser", action="store_true", help="don't open a browser")
    parser.add_argument("--timeout", type=int, default=600, help="per-cell timeout with --execute (s)")
    parser.add_argument("--no-index", action="store_true", help="don't build the API search index")


# `ibert index`, minus bitsandbytes's warning about an optional CPU kernel package ("kernels"),
# which sentence-transformers' import triggers and which has nothing to do with the index
INDEX_QUIETLY = ("import logging, sys; logging.getLogger('bitsandbytes').setLevel(logging.ERROR); "
                 "from ibert_jupyter.cli import main; sys.exit(main(['index']))")


def ensure_index() -> bool:
    """Build the retrieval index when missing/outdated, showing progress; False (with why) if it fails."""
    import subprocess

    from ibert_jupyter.retrieval import paths
    from ibert_jupyter.retrieval.index.build import outdated_reason, read_manifest

    version = paths.ibis_version()
    manifest = read_manifest(paths.index_dir(version))
    try:
        reason = outdated_reason(manifest) if manifest is not None else "not built yet"
    except ValueError as exc:
        reason = str(exc)
    if reason is None:
        print(f"[ibert demo] API search index for ibis {version}: ready", file=sys.stderr)
        return True
    print(f"[ibert demo] building the API search index for ibis {version} ({reason}); once per Ibis "
          "version, about 1-2 minutes on 2 cores ...", file=sys.stderr)
    done = subprocess.run([sys.executable, "-c", INDEX_QUIETLY], check=False)
    if done.returncode != 0:
        print("[ibert demo] the index could not be built; the tour's search cell will say so. "
              "Run `ibert index` to retry.", file=sys.stderr)
        return False
    return True


def prepare(folder: Path, scale: float) -> tuple[Path, Path]:
    print(f"[ibert demo] building TPC-H sf={scale} in {folder / 'demo.duckdb'} ...", file=sys.stderr)
    database = build_demo_database(folder / "demo.duckdb", scale)
    notebook = write_demo_notebook(folder / NOTEBOOK_NAME, database.resolve())
    print(f"[ibert demo] notebook: {notebook}", file=sys.stderr)
    return database, notebook


def execute(notebook: Path, timeout: int) -> int:
    import papermill

    output = notebook.with_name(notebook.stem + ".executed.ipynb")
    try:
        papermill.execute_notebook(
            str(notebook), str(output), cwd=str(notebook.parent), kernel_name="python3",
            execution_timeout=timeout, progress_bar=sys.stderr.isatty(),
        )
    except papermill.PapermillExecutionError as exc:
        # papermill flags every error output, also those of cells tagged `raises-exception`
        # (which the kernel client ran past on purpose); only the others are failures.
        unexpected = unexpected_errors(output)
        if unexpected:
            print(f"[ibert demo] {unexpected[0]}", file=sys.stderr)
            print(f"[ibert demo] see {output}", file=sys.stderr)
            return 1
        if exc.ename == "CellExecutionError":  # pragma: no cover - failure without an output
            print(f"[ibert demo] cell {exc.exec_count} failed; see {output}", file=sys.stderr)
            return 1
        _drop_papermill_error_banners(output)
    print(f"[ibert demo] all cells ran as expected: {output}", file=sys.stderr)
    return 0


def _drop_papermill_error_banners(executed: Path) -> None:
    import nbformat

    nb = nbformat.read(str(executed), as_version=4)
    nb.cells = [c for c in nb.cells if "papermill-error-cell-tag" not in c.metadata.get("tags", [])]
    nbformat.write(nb, str(executed))


def unexpected_errors(executed: Path) -> list[str]:
    """Error outputs of cells that were not tagged ``raises-exception``."""
    import nbformat

    nb = nbformat.read(str(executed), as_version=4)
    found = []
    for cell in nb.cells:
        if cell.cell_type != "code" or "raises-exception" in cell.metadata.get("tags", []):
            continue
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                found.append(f"cell {cell.get('execution_count')} failed: {out.get('ename')}: {out.get('evalue')}")
    return found


def run(args) -> int:
    if args.scale <= 0:
        print("--scale must be positive", file=sys.stderr)
        return 2
    folder = Path(args.dir).resolve()
    _, notebook = prepare(folder, args.scale)
    if not args.no_index:
        ensure_index()
    if args.execute:
        return execute(notebook, args.timeout)
    argv = [
        sys.executable, "-m", "jupyterlab", str(notebook), f"--ServerApp.root_dir={folder}",
        f"--port={args.port}",
    ]
    if args.no_browser:
        argv.append("--no-browser")
    os.execv(sys.executable, argv)
    return 0  # pragma: no cover - execv does not return
