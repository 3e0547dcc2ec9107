"""``%%ibert``: ask Devstral for Ibis code; show only what compiled against your tables.

Talks to the Jupyter server that hosts the model when this kernel belongs to one (it finds
the server through ``list_running_servers`` and its own kernel id, or IBERT_SERVER_URL +
IBERT_SERVER_TOKEN); otherwise runs the loop in-process with the configured local model.
The server verifies against unbound tables rebuilt from this kernel's schema snapshot; the
kernel re-verifies against the live tables, with a preview, before showing anything.
"""

from __future__ import annotations

import html
import json
import os
from dataclasses import dataclass
from typing import Any, Callable

from IPython.core.magic import Magics, cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from ibert_jupyter.context import find_tables, schema_snapshot
from ibert_jupyter.model.errors import ModelUnavailable
from ibert_jupyter.verify import VerificationReport, verify


@dataclass(frozen=True)
class IbertOutcome:
    """What the last %%ibert produced (also stored as ``_ibert`` in the user namespace)."""

    prompt: str
    via: str  # "server <url>" or "in-process <model name>"
    candidates: tuple[dict[str, Any], ...] = ()  # the server's JSON candidates, as sent
    chosen: VerificationReport | None = None  # live re-check (with preview) of the best candidate
    tables: tuple[str, ...] = ()  # the kernel's tables it was checked against

    @property
    def verified(self) -> bool:
        return self.chosen is not None and self.chosen.ok


def find_server() -> tuple[str, str] | None:
    """(base URL, token) of the Jupyter server running this kernel, if any."""
    url = os.environ.get("IBERT_SERVER_URL")
    if url:
        return url.rstrip("/") + "/", os.environ.get("IBERT_SERVER_TOKEN", "")
    try:
        from ipykernel.connect import get_connection_file

        kernel_id = os.path.basename(get_connection_file()).removeprefix("kernel-").removesuffix(".json")
    except Exception:  # noqa: BLE001 - not inside an ipykernel
        return None
    try:
        import httpx
        from jupyter_server.serverapp import list_running_servers

        for server in list_running_servers():
            base, token = server["url"], server.get("token", "")
            kernels = httpx.get(f"{base}api/kernels", headers={"Authorization": f"token {token}"}, timeout=3).json()
            if any(k.get("id") == kernel_id for k in kernels):
                return base, token
    except Exception:  # noqa: BLE001 - no reachable server: fall back to in-process
        return None
    return None


def _server_error(detail: dict) -> Exception:
    """The server's error (``{"error": {"type", "message"}}``) as ModelUnavailable or RuntimeError."""
    error = detail.get("error")
    if isinstance(error, dict):
        kind, message = error.get("type", ""), error.get("message", "")
    else:  # older servers: {"error": "model_unavailable", "message": ...}
        kind, message = str(error or ""), detail.get("message", "")
    if kind in ("ModelUnavailable", "model_unavailable"):
        return ModelUnavailable(message)
    return RuntimeError(f"iBERT server: {message or kind or 'unknown error'}")


def generate_via_server(server: tuple[str, str], body: dict, on_event: Callable[[dict], None]) -> dict:
    import httpx

    base, token = server
    url = f"{base}ibert/generate"
    with httpx.stream("POST", url, json=body, headers={"Authorization": f"token {token}"}, timeout=None) as resp:
        if resp.status_code != 200:
            try:
                detail = json.loads(resp.read())
            except ValueError:
                detail = {"error": {"type": "http_error", "message": resp.text[:500]}}
            raise _server_error(detail)
        for line in resp.iter_lines():
            if not line.strip():
                continue
            event = json.loads(line)
            if event["event"] == "result":
                return event["result"]
            if event["event"] == "error":
                raise _server_error(event)
            on_event(event)
    raise RuntimeError("iBERT server closed the stream without a result")


def live_check(result: dict, tables, dialect: str | None) -> tuple[int | None, VerificationReport | None]:
    """Re-verify the server's verified candidates, best first, against the live tables."""
    candidates = result["candidates"]
    order = [i for i, c in enumerate(candidates) if c["report"]["ok"]]
    if result.get("best") is not None:
        order.sort(key=lambda i: i != result["best"])
    last = None
    for i in order:
        report = verify(candidates[i]["code"], tables, dialect=dialect, preview=True)
        if report.ok:
            return i, report
        last = report
    return None, last


def unbang(text: str) -> str:
    """Ibis writes non-nullable types as ``!int64``; people read ``int64 (not null)``."""
    import re

    return re.sub(r"!([a-z][\w]*(?:\([^)]*\))?)", r"\1 (not null)", text)


def outcome_text(outcome: IbertOutcome, code: str | None) -> str:
    """Plain-text form of the panel (saved notebooks, terminals)."""
    lines = [outcome_header(outcome, html_=False)]
    if code:
        lines += ["", code]
    if outcome.chosen is not None and outcome.chosen.ok and outcome.chosen.sql:
        lines += ["", f"SQL ({outcome.chosen.dialect}):", outcome.chosen.sql]
    return "\n".join(lines)


def outcome_header(outcome: IbertOutcome, html_: bool = True) -> str:
    esc = html.escape if html_ else (lambda s: s)
    n = len(outcome.candidates)
    if outcome.verified:
        against = ", ".join(outcome.chosen.verified_against) or "no tables"
        text = f"✓ Verified against {against}"
        return f"<b>{esc(text)}</b> <small>({esc(outcome.via)})</small>" if html_ else f"{text} ({outcome.via})"
    why = unbang(outcome.chosen.summary()) if outcome.chosen else "no candidate compiled"
    against = ", ".join(outcome.tables) or "no tables"
    text = (f"✗ iBERT: nothing verified ({n} candidates checked against {against}): {why}. "
            "The code below did NOT pass the verifier.")
    return f"<b>{esc(text)}</b>" if html_ else text


class _Panel:
    """ipywidgets view: status, chosen code + SQL + preview, browsable candidates, Accept."""

    def __init__(self, shell):
        import ipywidgets as w

        from ibert_jupyter.jupyter.actions import current_cell_id

        self.shell = shell
        self.w = w
        self.cell_id = current_cell_id(shell)  # Accept puts the code right below this cell
        self.progress = w.HTML("iBERT: starting…")
        self.box = w.VBox([self.progress])
        self.tokens = 0
        self.display = None

    def show_live(self) -> None:
        """In a kernel: the live panel (with its text fallback). A plain shell gets text at the end."""
        from ibert_jupyter.jupyter.widget_display import WidgetDisplay

        if getattr(self.shell, "kernel", None) is not None:
            self.display = WidgetDisplay(self.box, "iBERT: generating…", "<div>iBERT: generating…</div>")

    def finish_text(self, text: str, html_text: str) -> None:
        if self.display is not None:
            self.display.update(text, html_text)
        else:
            print(text)

    def on_event(self, event: dict) -> None:
        kind = event.get("event")
        if kind == "token":
            self.tokens += 1
            if self.tokens % 16:
                return
            self.progress.value = f"iBERT: generating… {self.tokens} tokens"
        elif kind == "round":
            self.progress.value = f"iBERT: round {event['round']}, {event['n']} candidates"
        elif kind == "candidate":
            mark = "✓ compiles" if event["ok"] else "✗ fails"
            self.progress.value = f"iBERT: candidate {event['candidate'] + 1} {mark}: {html.escape(unbang(event['summary']))}"

    def unavailable(self, message: str) -> None:
        """Say it once, with the reason first and the how-to folded."""
        first, _, rest = message.strip().partition("\n")
        details = f"<details><summary>How to enable the model</summary><pre>{html.escape(rest.strip())}</pre></details>" if rest.strip() else ""
        self.progress.value = f"<b>✗ Model unavailable</b>: {html.escape(first)}{details}"
        self.finish_text(f"✗ iBERT: model unavailable: {message.strip()}", f"<div>{self.progress.value}</div>")

    def show(self, outcome: IbertOutcome, chosen_index: int | None) -> None:
        w = self.w
        cands = outcome.candidates
        self.progress.value = outcome_header(outcome)
        options = [(f"#{i + 1} round {c['round']} {'✓ compiles' if c['report']['ok'] else '✗ fails'}", i) for i, c in enumerate(cands)]
        self.picker = w.Dropdown(options=options, value=chosen_index if chosen_index is not None else 0,
                                 description="candidate")
        self.code = w.HTML()
        self.detail = w.HTML()
        self.preview = w.Output()
        self.status = w.HTML()
        self.accept = w.Button(description="Accept", button_style="success", disabled=not outcome.verified,
                               tooltip="Put this code in a new cell below")
        self._outcome = outcome
        self.picker.observe(lambda change: self._render(change["new"]), names="value")
        self.accept.on_click(lambda _: self._accept())
        self._render(self.picker.value)
        self.box.children = [self.progress, self.picker, self.code, self.detail, self.preview,
                             w.HBox([self.accept, self.status])]
        code = cands[self.picker.value]["code"] if cands else None
        body = f"<pre>{html.escape(code)}</pre>" if code else ""
        self.finish_text(outcome_text(outcome, code), f"<div>{outcome_header(outcome)}{body}{self.detail.value}</div>")

    def _accept(self) -> None:
        from ibert_jupyter.jupyter.actions import insert_below

        code = self._outcome.candidates[self.picker.value]["code"]
        insert_below(code, self.cell_id, shell=self.shell,
                     on_done=lambda ok, message: setattr(self.status, "value", html.escape(message)))

    def _render(self, index: int) -> None:
        cand = self._outcome.candidates[index]
        report = cand["report"]
        self.code.value = f"<pre>{html.escape(cand['code'])}</pre>"
        if report["ok"] and report.get("sql"):
            self.detail.value = f"<details><summary>SQL ({report['dialect']})</summary><pre>{html.escape(report['sql'])}</pre></details>"
        else:
            error = unbang(f"{report.get('error_type') or ''}: {report.get('message') or ''}")
            self.detail.value = f"<pre>✗ {html.escape(error)}</pre>"
        self.preview.clear_output()
        chosen = self._outcome.chosen
        if chosen is not None and chosen.ok and chosen.code == cand["code"] and chosen.preview is not None:
            with self.preview:
                from IPython.display import display

                display(chosen.preview)


@magics_class
class GenerateMagics(Magics):
    @magic_arguments()
    @argument("--n", type=int, default=4, help="candidates per round")
    @argument("--rounds", type=int, default=2, help="refinement rounds with the compiler's errors")
    @argument("--dialect", default=None, help="SQL dialect to compile to (default: the tables' backend)")
    @argument("--local", action="store_true", help="run in this kernel even if a server hosts the model")
    @argument("prompt", nargs="*", help="the request (or write it in the cell body)")
    @cell_magic("ibert")
    def ibert(self, line: str, cell: str):
        """%%ibert [--n N] [--rounds R] [--dialect D] prompt — verified Ibis code from Devstral."""

        args = parse_argstring(self.ibert, line)
        prompt = " ".join(args.prompt + [cell.strip()]).strip()
        if not prompt:
            print("%%ibert: write what the code should compute in the cell body")
            return None
        if not 1 <= args.n <= 16 or not 1 <= args.rounds <= 5:
            print("%%ibert: --n must be 1..16 and --rounds 1..5")
            return None
        namespace = self.shell.user_ns
        tables = find_tables(namespace)
        snapshot = schema_snapshot(namespace)
        panel = _Panel(self.shell)
        panel.show_live()
        server = None if args.local else find_server()
        try:
            if server is not None:
                body = {"prompt": prompt, "snapshot": snapshot, "n": args.n, "rounds": args.rounds,
                        "dialect": args.dialect}
                result = generate_via_server(server, body, panel.on_event)
                via = f"server {server[0]}"
            else:
                from ibert_jupyter.generate import ModelCandidateSource, generate_verified
                from ibert_jupyter.model.runtime import current_settings, get_default_model

                model = get_default_model()
                source = ModelCandidateSource(model, max_new_tokens=current_settings().max_new_tokens)
                result = generate_verified(prompt, tables, source, snapshot=snapshot,
                                           n=args.n, rounds=args.rounds, dialect=args.dialect,
                                           on_event=panel.on_event).to_dict()
                via = f"in-process {model.name}"
        except ModelUnavailable as exc:
            panel.unavailable(str(exc))
            return None
        except Exception as exc:  # noqa: BLE001 - show the problem, keep the kernel healthy
            panel.progress.value = f"<b>✗ iBERT failed:</b> {html.escape(str(exc))}"
            panel.finish_text(f"✗ iBERT failed: {type(exc).__name__}: {exc}", f"<div>{panel.progress.value}</div>")
            return None
        index, chosen = live_check(result, tables, args.dialect)
        outcome = IbertOutcome(prompt, via, tuple(result["candidates"]), chosen, tuple(tables))
        namespace["_ibert"] = outcome
        if not outcome.candidates:
            panel.progress.value = "<b>✗ iBERT: nothing verified</b>: the model returned no candidates"
            panel.finish_text("✗ iBERT: nothing verified: the model returned no candidates", f"<div>{panel.progress.value}</div>")
        else:
            panel.show(outcome, index)
        return None
