"""``%ibert_fix`` and ``%ibert_lint``: thin notebook adapters over ``ibert_jupyter.repair``.

An IPython custom exception handler records every failing cell (exception + exact cell
source); ``%ibert_fix`` repairs the last one (or cell N) against the live tables, in the
names this notebook really binds (``provided=ibis_names(user_ns)``), and shows a panel: how
sure it is (verified / runs — check), the diff, preview rows for a guess, what was tried and
why it failed, a next step when nothing worked, and an Apply button.
"""

from __future__ import annotations

import html
import sys

from IPython.core.magic import Magics, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from ibert_jupyter.context import find_tables
from ibert_jupyter.context.last_error import LastError, capture, capture_last
from ibert_jupyter.context.namespace import helpers_for, ibis_names
from ibert_jupyter.repair import RepairStatus


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
        provided = ibis_names(namespace)  # `_` counts only if it is Ibis's, not IPython's last output
        live = (error.error_type, error.message, error.line) if error else None
        try:
            result = repair(code, tables, helpers=helpers, error=live, provided=provided)
        except ValueError as exc:
            print(f"iBERT: cannot repair this cell: {exc}", file=sys.stderr)
            return None
        next_step = None
        if not result.runs and result.status != RepairStatus.ALREADY_OK:
            result, next_step = self._next_step(result, tables, helpers, provided, error, use_model=not args.no_model)
        self.last_result = result
        if args.apply and result.verified:
            self.shell.set_next_input(result.fixed_code, replace=False)
        self.last_panel = self._show(result, next_step)
        return None

    def _next_step(self, result, tables, helpers, provided, error, *, use_model: bool):
        """When no rule worked: the model (if configured and allowed), else the closest API docs.

        Returns (the result, updated by copy, and the docs to show or None)."""
        from ibert_jupyter.repair.llm import api_docs, default_model, model_repair

        if use_model:
            model, reason = default_model()
            if model is not None:
                result = model_repair(result, tables, model, helpers=helpers, provided=provided,
                                      traceback_text=error.traceback_text if error else None)
                if result.runs:
                    return result, None
            else:
                result = result.with_note(f"Next step: {reason}.")
        else:
            result = result.with_note("Next step: run %ibert_fix without --no-model to ask the model (when one is configured).")
        diag = result.diagnosis
        query = f"{diag.headline()} {diag.name or ''} {diag.message}" if diag else result.original
        docs, why = api_docs(query, k=3)
        return result, {"docs": docs, "docs_unavailable": why}

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
    def _show(self, result, next_step=None):
        text = _plain_report(result, next_step)
        try:
            import ipywidgets  # noqa: F401  (the panel needs it; without it, plain text)
        except ImportError:
            print(text)
            return None
        panel = build_panel(result, self.shell, next_step)
        if getattr(self.shell, "kernel", None) is None:
            print(text)  # terminal / plain shell: widgets cannot render
        else:
            from ibert_jupyter.jupyter.widget_display import WidgetDisplay

            # saved notebooks and viewers show the plain report, not the widget's repr
            WidgetDisplay(panel, text, f"<pre>{html.escape(text)}</pre>")
        return panel


def _badge(result) -> str:
    if result.verified:
        return "verified fix"
    if result.runs:
        return "runs — check that this is what you meant"
    if result.status == RepairStatus.ALREADY_OK:
        return "cell verifies as is"
    return "no fix found"


def checked_against(result) -> list[str]:
    """The verifier's table labels, only for the tables this cell uses."""
    if result.report is None:
        return list(result.tables_used)
    used = set(result.tables_used)
    return [label for label in result.report.verified_against if label.split(" (", 1)[0] in used] or list(result.tables_used)


def tried_lines(result) -> list[str]:
    """One line per failed attempt: which rule, and why it did not work."""
    from ibert_jupyter.repair.repairer import clip

    lines = []
    for attempt in result.failed_attempts():
        line = f"{attempt.candidate.rule}: {clip(attempt.summary, 160)}"
        if line not in lines:
            lines.append(line)
    return lines


def _preview_frame(result):
    preview = result.report.preview if result.report is not None else None
    if preview is None:
        return None
    if hasattr(preview, "to_pandas"):
        preview = preview.to_pandas()
    return preview


def _plain_report(result, next_step=None) -> str:
    lines = [f"iBERT fix — {_badge(result)}", result.explanation()]
    if result.runs or result.status == RepairStatus.ALREADY_OK:
        lines.append("Checked against: " + (", ".join(checked_against(result)) or "no tables"))
    if result.fixed_code:
        lines += ["", result.diff()]
    frame = _preview_frame(result)
    if result.runs and not result.verified and frame is not None:
        lines += ["Preview of the result:", frame.head(10).to_string()]
    if result.sql:
        lines += ["SQL:", result.sql]
    tried = tried_lines(result)
    if tried:
        lines += ["Tried:"] + [f"  - {t}" for t in tried]
    if next_step and next_step.get("docs"):
        lines += ["Closest Ibis API docs:"] + [f"  - {d.splitlines()[0][:160]}" for d in next_step["docs"]]
    elif next_step and next_step.get("docs_unavailable"):
        lines.append(next_step["docs_unavailable"])
    return "\n".join(lines)


def _apply_button(result, shell):
    """The Apply button: puts the fix in a new cell directly below the cell showing the panel.

    The labextension inserts it at once (``actions.insert_below``); it is never run for the user.
    """
    import ipywidgets as widgets

    from ibert_jupyter.jupyter.actions import current_cell_id, insert_below

    verified = result.verified
    button = widgets.Button(
        description="Apply" if verified else "Apply (check it)",
        button_style="success" if verified else "warning",
        tooltip="Put the fixed code in a new cell" + ("" if verified else "; it runs, but check that it computes what you meant"),
    )
    status = widgets.HTML("")
    cell_id = current_cell_id(shell)  # the cell showing this panel; the fix goes right below it

    def apply(_button):
        insert_below(result.fixed_code, cell_id, shell=shell,
                     on_done=lambda ok, message: setattr(status, "value", html.escape(message)))

    button.on_click(apply)
    return widgets.HBox([button, status])


def build_panel(result, shell, next_step=None):
    """ipywidgets panel: verdict, diff, preview (for guesses), SQL, what was tried, next step, Apply."""
    import ipywidgets as widgets

    colour = {"verified fix": "#1a7f37", "cell verifies as is": "#1a7f37"}.get(_badge(result), "#9a6700")
    parts = [
        widgets.HTML(f"<b style='color:{colour}'>iBERT — {html.escape(_badge(result))}</b>"
                     f"<p style='line-height:1.5'>{html.escape(result.explanation())}</p>"),
    ]
    if result.runs or result.status == RepairStatus.ALREADY_OK:
        against = ", ".join(checked_against(result)) or "no tables"
        parts.append(widgets.HTML(f"<p>Checked against: {html.escape(against)}</p>"))
    if result.fixed_code:
        parts.append(widgets.HTML(f"<pre>{html.escape(result.diff())}</pre>"))
    frame = _preview_frame(result)
    if result.runs and not result.verified and frame is not None:
        parts.append(widgets.HTML("<p>Preview of the result (check it):</p>" + frame.head(10).to_html(index=False, escape=True)))
    if result.sql:
        parts.append(widgets.HTML(f"<details><summary>SQL</summary><pre>{html.escape(result.sql)}</pre></details>"))
    tried = tried_lines(result)
    if tried:
        items = "".join(f"<li>{html.escape(t)}</li>" for t in tried)
        parts.append(widgets.HTML(f"<details><summary>Tried ({len(tried)}) and why each failed</summary><ul>{items}</ul></details>"))
    if next_step and next_step.get("docs"):
        items = "".join(f"<li><pre>{html.escape(d[:600])}</pre></li>" for d in next_step["docs"])
        parts.append(widgets.HTML(f"<details open><summary>Closest Ibis API docs</summary><ul>{items}</ul></details>"))
    elif next_step and next_step.get("docs_unavailable"):
        parts.append(widgets.HTML(f"<p>{html.escape(next_step['docs_unavailable'])}</p>"))
    if result.runs and result.fixed_code:
        parts.append(_apply_button(result, shell))
    return widgets.VBox(parts)
