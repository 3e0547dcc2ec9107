"""Sandboxed verification of candidate Ibis code against real tables."""

from ibert_jupyter.verify.report import STAGES, VerificationReport
from ibert_jupyter.verify.sandbox import SandboxError, SandboxViolation, find_violations
from ibert_jupyter.verify.verifier import (
    CandidateTimeout,
    VerifierInputError,
    verify,
)

__all__ = [
    "STAGES",
    "CandidateTimeout",
    "SandboxError",
    "SandboxViolation",
    "VerificationReport",
    "VerifierInputError",
    "find_violations",
    "verify",
]
