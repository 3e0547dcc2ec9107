"""Verification of candidate Ibis code in isolated worker processes, with safe previews."""

from ibert_jupyter.verify.pool import WorkerPool, default_pool
from ibert_jupyter.verify.preview_guard import PreviewRefused
from ibert_jupyter.verify.report import STAGES, Stage, VerificationReport
from ibert_jupyter.verify.sandbox import SandboxError, SandboxViolation, find_violations
from ibert_jupyter.verify.verifier import (
    CandidateTimeout,
    VerifierInputError,
    verify,
)

__all__ = [
    "STAGES",
    "CandidateTimeout",
    "PreviewRefused",
    "SandboxError",
    "SandboxViolation",
    "Stage",
    "VerificationReport",
    "VerifierInputError",
    "WorkerPool",
    "default_pool",
    "find_violations",
    "verify",
]
