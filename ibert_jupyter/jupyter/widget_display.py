"""Show an ipywidget with a readable text/HTML fallback for saved notebooks.

A widget's own bundle carries only its repr (``VBox(children=(HTML(value=...``) beside the
widget view, so a saved notebook opened anywhere without the live kernel shows that repr.
``WidgetDisplay`` sends the same view with our own text/plain and text/html, and updates
them together when the panel changes.
"""

from __future__ import annotations

from typing import Any


def widget_bundle(widget: Any, text: str, html_text: str) -> dict[str, Any]:
    bundle = dict(widget._repr_mimebundle_())
    bundle["text/plain"] = text
    bundle["text/html"] = html_text
    return bundle


class WidgetDisplay:
    """One output: the live widget in JupyterLab, ``text``/``html_text`` everywhere else."""

    def __init__(self, widget: Any, text: str, html_text: str) -> None:
        from IPython.display import display

        self.widget = widget
        self.handle = display(widget_bundle(widget, text, html_text), raw=True, display_id=True)

    def update(self, text: str, html_text: str) -> None:
        if self.handle is not None:
            self.handle.update(widget_bundle(self.widget, text, html_text), raw=True)
