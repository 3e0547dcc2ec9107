"""Jupyter adapters: IPython magics, widgets and server-extension handlers (thin, no logic)."""
