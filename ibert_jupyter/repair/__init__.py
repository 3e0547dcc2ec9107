"""Repair failing Ibis code: classify the error, propose schema-aware fixes, verify each one.

Jupyter-free core; ``ibert_jupyter.jupyter.magics_fix`` is the notebook adapter.
"""

from ibert_jupyter.repair.candidate import Candidate
from ibert_jupyter.repair.diagnosis import KINDS, Diagnosis, classify
from ibert_jupyter.repair.lint import Finding, SemgrepUnavailable, lint_code, lint_sources
from ibert_jupyter.repair.repairer import RepairResult, RepairStatus, repair

__all__ = [
    "KINDS",
    "Candidate",
    "Diagnosis",
    "Finding",
    "RepairResult",
    "RepairStatus",
    "SemgrepUnavailable",
    "classify",
    "lint_code",
    "lint_sources",
    "repair",
]
