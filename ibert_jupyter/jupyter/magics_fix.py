"""``%ibert_fix`` and ``%ibert_lint``: thin notebook adapters over ``ibert_jupyter.repair``.

An IPython custom exception handler records every failing cell (exception + exact cell
source); ``%ibert_fix`` repairs the last one (or cell N) against the live tables and shows a
panel: explanation, diff, SQL, and an Apply button that puts the fixed code in a cell.
"""

from __future__ import annotations

import datetime
import html
import inspect
import sys
from typing import Any

from IPython.core.magic import Magics, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from ibert_jupyter.context import find_tables
from ibert_jupyter.context.last_error import LastError, capture, capture_last

_PLAIN = (str, int, float, bool, tuple, list, dict, set, frozenset, type(None), datetime.date, datetime.datetime)


def _cell_names(code: str) -> set[str]:
    import ast

    try:
        return {n.id for n in ast.walk(ast.parse(code)) if isinstance(n, ast.Name)}
    except SyntaxError:
        return set()


def helpers_for(code: str, namespace: dict[str, Any]) -> dict[str, Any]:
    """Non-table values the cell reads from the notebook: constants, expressions, functions."""
    import ibis.expr.types as ir
    from ibis.common.deferred import Deferred

    helpers = {}
    for name in _cell_names(code):
        if name.startswith("_") or name not in namespace or name == "ibis":
            continue
        value = namespace[name]
        if isinstance(value, ir.Table):
            continue
        if isinstance(value, _PLAIN + (ir.Expr, Deferred)) or inspect.isfunction(value):
            helpers[name] = value
    return helpers


@magics_class
class FixMagics(Magics):
    """Repair the last failing cell (verified) and lint cells with the Ibis Semgrep rules."""

    def __init__(self, shell=None, **kwargs):
        super().__init__(shell=shell, **kwargs)
        self.last_error: LastError | None = None
        self.last_result = None
        self.last_panel = None
        if shell is not None:
            self._install_exception_hook(shell)

    # -- capture -----------------------------------------------------------------------
    def _install_exception_hook(self, shell) -> None:
        previous = getattr(shell, "CustomTB", None) if getattr(shell, "custom_exceptions", ()) else None
        magics = self

        def handler(shell, etype, evalue, tb, tb_offset=None):
            try:
                source = shell.user_ns.get("In", [""])[-1] if shell.user_ns.get("In") else None
                magics.last_error = capture(evalue, cell_source=source, cell_number=shell.execution_count)
            except Exception:  # noqa: BLE001 - never break the user's traceback
                pass
            if previous is not None:
                return previous(etype, evalue, tb, tb_offset)
            structured = shell.showtraceback((etype, evalue, tb), tb_offset=tb_offset)
            if not isinstance(evalue, KeyboardInterrupt):
                print("iBERT: run %ibert_fix to get a verified repair of this cell.", file=sys.stderr)
            return structured

        shell.set_custom_exc((Exception,), handler)

    def _error_for(self, cell: int | None) -> tuple[str | None, LastError | None]:
        history = self.shell.user_ns.get("In", [])
        if cell is not None:
            if not 0 < cell < len(history):
                raise ValueError(f"there is no cell {cell} in this session's history (1..{len(history) - 1})")
            error = self.last_error if self.last_error and self.last_error.cell_number == cell else None
            return history[cell], error
        error = self.last_error or capture_last()
        if error is None:
            return None, None
        return error.cell_source, error

    # -- magics -------------------------------------------------------------------------
    @magic_arguments()
    @argument("cell", nargs="?", type=int, default=None, help="history number of the cell to repair (default: the last failing cell)")
    @argument("--no-model", action="store_true", help="deterministic fixes only; never call the model")
    @argument("--apply", action="store_true", help="put a verified fix in the next cell right away")
    @line_magic
    def ibert_fix(self, line: str = ""):
        """Repair the last failing cell (or cell N); every proposed fix is re-verified."""
        from ibert_jupyter.repair import repair

        args = parse_argstring(self.ibert_fix, line)
        try:
            code, error = self._error_for(args.cell)
        except ValueError as exc:
            print(f"iBERT: {exc}", file=sys.stderr)
            return None
        if not code or not code.strip():
            print("iBERT: no failing cell recorded yet; run the cell again or pass its number: %ibert_fix N", file=sys.stderr)
            return None
        namespace = self.shell.user_ns
        tables = find_tables(namespace)
        helpers = helpers_for(code, namespace)
        live = (error.error_type, error.message, error.line) if error else None
        result = repair(code, tables, helpers=helpers, error=live)
        if not result.verified and result.status != "already-ok" and not args.no_model:
            from ibert_jupyter.repair.llm import default_model, model_repair

            model, reason = default_model()
            if model is None:
                result.notes.append(f"{reason}; showing the deterministic analysis only.")
            else:
                result = model_repair(result, tables, model, helpers=helpers,
                                      traceback_text=error.traceback_text if error else None)
        self.last_result = result
        if args.apply and result.verified:
            self.shell.set_next_input(result.fixed_code, replace=False)
        self.last_panel = self._show(result)
        return None

    @magic_arguments()
    @argument("cell", nargs="?", type=int, default=None, help="history number of one cell (default: every cell of the session)")
    @line_magic
    def ibert_lint(self, line: str = ""):
        """Check cells against iBERT's Ibis idiom rules (Semgrep, offline, one run)."""
        from ibert_jupyter.repair.lint import SemgrepUnavailable, lint_sources

        args = parse_argstring(self.ibert_lint, line)
        history = list(self.shell.user_ns.get("In", []))
        numbers = [args.cell] if args.cell is not None else list(range(1, len(history)))
        numbers = [n for n in numbers if 0 < n < len(history) and "%ibert_lint" not in history[n]]
        if not numbers:
            print("iBERT lint: no cells to check.")
            return None
        try:
            findings = lint_sources([self.shell.transform_cell(history[n]) for n in numbers])
        except SemgrepUnavailable as exc:
            print(f"iBERT lint: semgrep unavailable: {exc}", file=sys.stderr)
            return None
        total = 0
        for number, cell_findings in zip(numbers, findings):
            for finding in cell_findings:
                total += 1
                print(f"In [{number}] {finding}")
        print(f"iBERT lint: {total} finding(s) in {len(numbers)} cell(s).")
        self.last_result = dict(zip(numbers, findings))
        return None

    # -- display --------------------------------------------------------------------------
    def _show(self, result):
        text = _plain_report(result)
        try:
            import ipywidgets  # noqa: F401  (the panel needs it; without it, plain text)
            from IPython.display import display
        except ImportError:
            print(text)
            return None
        panel = build_panel(result, self.shell)
        if getattr(self.shell, "kernel", None) is None:
            print(text)  # terminal / plain shell: widgets cannot render
        else:
            display(panel)
        return panel


def _plain_report(result) -> str:
    lines = [f"iBERT fix — {_badge(result)}", result.explanation()]
    if result.fixed_code:
        lines += ["", result.diff()]
    if result.sql:
        lines += ["SQL:", result.sql]
    return "\n".join(lines)


def _badge(result) -> str:
    if result.verified and result.status in ("fixed", "model-fixed"):
        return "verified fix"
    if result.status == "already-ok":
        return "cell verifies as is"
    return "no verified fix"


def build_panel(result, shell):
    """ipywidgets panel: explanation, diff, SQL, and an Apply button for verified fixes."""
    import ipywidgets as widgets

    colour = "#1a7f37" if result.verified and result.fixed_code else "#9a6700"
    parts = [
        widgets.HTML(f"<b style='color:{colour}'>iBERT — {html.escape(_badge(result))}</b>"
                     f"<p>{html.escape(result.explanation())}</p>"),
    ]
    if result.fixed_code:
        parts.append(widgets.HTML(f"<pre>{html.escape(result.diff())}</pre>"))
    if result.sql:
        parts.append(widgets.HTML(f"<details><summary>SQL</summary><pre>{html.escape(result.sql)}</pre></details>"))
    if result.verified and result.fixed_code:
        from ibert_jupyter.jupyter.actions import current_cell_id, insert_below

        button = widgets.Button(description="Apply", button_style="success", tooltip="Put the verified fix in a new cell below")
        status = widgets.HTML("")
        cell_id = current_cell_id(shell)  # the cell showing this panel; the fix goes right below it

        def apply(_button):
            insert_below(result.fixed_code, cell_id, shell=shell,
                         on_done=lambda ok, message: setattr(status, "value", html.escape(message)))

        button.on_click(apply)
        parts.append(widgets.HBox([button, status]))
    return widgets.VBox(parts)
