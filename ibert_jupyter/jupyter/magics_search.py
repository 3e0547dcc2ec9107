"""%ibert_search QUERY: ranked Ibis symbols of the installed version, with signatures and source links."""

from __future__ import annotations

import html
from dataclasses import dataclass

from IPython.core.magic import Magics, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from ibert_jupyter.retrieval import IndexUnavailable, hits_text


def source_link(path: str, line: int, label: str) -> str:
    """A link iBERT's JupyterLab extension opens in a read-only editor at ``line``.

    Browsers refuse file:// links from a page, so the path travels as data attributes; the
    visible text keeps the file and line readable anywhere else (saved notebooks, nbconvert).
    """
    return (f'<a class="ibert-source-link" role="link" tabindex="0" data-ibert-path="{html.escape(path)}" '
            f'data-ibert-line="{int(line)}" title="Open {html.escape(path)} in JupyterLab">{html.escape(label)}</a>')


@dataclass(frozen=True)
class SearchView:
    """Display object: a table of hits in HTML frontends, plain lines elsewhere."""

    query: str
    hits: list
    error: str | None = None

    def __repr__(self) -> str:
        if self.error:
            return f"ibert_search: {self.error}"
        return hits_text(self.query, self.hits)

    def _repr_html_(self) -> str:
        if self.error:
            return f"<div><b>ibert_search</b>: {html.escape(self.error)}</div>"
        rows = "".join(
            f"<tr><td>{i}</td><td><code>{html.escape(h.public_name)}</code></td>"
            f"<td><code>{html.escape(h.signature[:160])}</code></td><td>{html.escape(h.summary)}"
            + (f"<br><small>matched {html.escape(h.matched)}</small>" if h.matched else "") + "</td>"
            f"<td>{source_link(h.path, h.line, f'{h.file}:{h.line}')}</td></tr>"
            for i, h in enumerate(self.hits, 1)
        )
        return ("<table><thead><tr><th>#</th><th>symbol</th><th>signature</th><th>what it does</th>"
                f"<th>source</th></tr></thead><tbody>{rows}</tbody></table>")


@magics_class
class SearchMagics(Magics):
    @magic_arguments()
    @argument("-k", type=int, default=5, help="number of symbols to show")
    @argument("query", nargs="+", help="what you want to do, in words")
    @line_magic
    def ibert_search(self, line: str):
        """Search the installed Ibis API: %ibert_search [-k N] QUERY."""
        args = parse_argstring(self.ibert_search, line)
        query = " ".join(args.query).strip().strip("\"'")
        if args.k < 1:
            return SearchView(query, [], error=f"-k must be at least 1, got {args.k}")
        from ibert_jupyter import retrieval

        try:
            return SearchView(query, retrieval.search(query, args.k))
        except IndexUnavailable as exc:
            return SearchView(query, [], error=str(exc))
