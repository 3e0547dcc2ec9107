"""Sidebar chat core: question + kernel schema snapshot → answer, API symbols, verified code.

Jupyter-free; the server routes in ``ibert_jupyter.jupyter.handlers_chat`` are thin adapters.
``answer`` runs a whole turn; ``prepare`` / ``reply`` / ``finish`` are its stages, so a
server can run retrieval and verification off the model's queue and stream the reply.
"""

from ibert_jupyter.chat.answer import AnswerStatus, ChatAnswer, ChatContext, answer, finish, prepare, reply, unavailable
from ibert_jupyter.chat.request import ChatRequest, ChatRequestError, chat_request_from_fields, parse_chat_request

__all__ = ["AnswerStatus", "ChatAnswer", "ChatContext", "ChatRequest", "ChatRequestError", "answer", "chat_request_from_fields",
           "finish", "parse_chat_request", "prepare", "reply", "unavailable"]
