"""Sidebar chat core: question + kernel schema snapshot → answer, API symbols, verified code.

Jupyter-free; the server route in ``ibert_jupyter.jupyter.handlers_chat`` is a thin adapter.
"""

from ibert_jupyter.chat.answer import ChatAnswer, answer
from ibert_jupyter.chat.request import ChatRequest, ChatRequestError, parse_chat_request

__all__ = ["ChatAnswer", "ChatRequest", "ChatRequestError", "answer", "parse_chat_request"]
