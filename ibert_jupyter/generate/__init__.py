"""The verified-generation loop: candidates from a model, kept only if they compile."""

from ibert_jupyter.generate.loop import (
    Candidate,
    CandidateSource,
    GenerationResult,
    ModelCandidateSource,
    generate_verified,
)

__all__ = ["Candidate", "CandidateSource", "GenerationResult", "ModelCandidateSource", "generate_verified"]
