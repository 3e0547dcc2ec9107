"""Immutable verification reports: what was checked, against what, and where it failed."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, Callable


class Stage(StrEnum):
    """The verifier's stages, in order (the values are what JSON and the labextension show)."""

    PARSE = "parse"
    SANDBOX = "sandbox"
    BUILD = "build"
    TYPECHECK = "typecheck"
    SQL = "sql"
    PREVIEW = "preview"


STAGES = tuple(Stage)


@dataclass(frozen=True)
class VerificationReport:
    """Outcome of running one candidate through the verifier.

    ``stage`` is the failing stage when ``ok`` is False, else the last stage run.
    ``line``/``column`` (1-based) point into the candidate code.
    """

    ok: bool
    stage: Stage
    code: str
    error_type: str | None = None
    message: str | None = None
    line: int | None = None
    column: int | None = None
    sql: str | None = None
    dialect: str | None = None
    result_kind: str | None = None
    schema: dict[str, str] | None = None
    preview: Any = None
    verified_against: list[str] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    table_references: list[str] = field(default_factory=list)
    isolation: dict[str, Any] | None = None
    expression_factory: Callable[[], Any] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        # the worker sends the stage as JSON text: check it names a stage, and keep the member
        object.__setattr__(self, "stage", Stage(self.stage))

    @property
    def expression(self) -> Any:
        """The verified result as an Ibis expression on the user's backend, or None.

        Built on first use from the checked SQL (the candidate's own objects stay in the
        verifier worker); None when the tables are unbound or the SQL is not previewable.
        """
        if "_expression" not in self.__dict__:
            value = None
            if self.expression_factory is not None:
                try:
                    value = self.expression_factory()
                except Exception:  # noqa: BLE001 - refused or unbound: no expression
                    value = None
            object.__setattr__(self, "_expression", value)
        return self.__dict__["_expression"]

    @property
    def total_ms(self) -> float:
        return sum(self.timings_ms.values())

    def summary(self) -> str:
        against = ", ".join(self.verified_against) or "no tables"
        if self.ok:
            return f"verified ({self.dialect}) against {against}"
        where = f" at line {self.line}, column {self.column}" if self.line else ""
        return f"failed at {self.stage}{where}: {self.error_type}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("expression_factory", None)
        data["stage"] = str(self.stage)  # plain JSON data: the enum's wire string
        preview = self.preview
        if preview is not None and hasattr(preview, "to_pylist"):
            data["preview"] = preview.to_pylist()
        elif preview is not None and hasattr(preview, "to_dict"):
            data["preview"] = preview.to_dict(orient="records")
        return data
