"""Model runtime: Devstral (+ LoRA) locally or through an OpenAI-compatible endpoint."""

from ibert_jupyter.model.base import ChatModel, Completion, GenerationRequest, Message
from ibert_jupyter.model.errors import ModelUnavailable

__all__ = ["ChatModel", "Completion", "GenerationRequest", "Message", "ModelUnavailable"]
