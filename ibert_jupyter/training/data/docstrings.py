"""The installed Ibis's own docstring examples, executed, as API question/answer material.

Each public method of the expression types (and ``ibis.*`` functions) whose ``Examples``
section builds its data with ``ibis.memtable`` is run statement by statement on DuckDB. Every
example *expression* that then passes the verifier (against the memtables it was given) and
executes becomes a candidate answer to "how do I ...?" about that method. Examples that need
the network (``ibis.examples``), files or connections are skipped and counted.
"""

from __future__ import annotations

import contextlib
import doctest
import inspect
import io
import re
import warnings
from dataclasses import dataclass
from typing import Any, Iterator

import ibis
import ibis.expr.types as ir

_SKIP = re.compile(r"ibis\.examples|read_|connect\(|to_pandas|to_pyarrow|\.execute\(|to_csv|to_parquet|\.sql\(|fetch\(|raw_sql|ibis\.get_backend|udf")
OWNERS = ("Table", "GroupedTable", "Value", "Column", "Scalar", "NumericValue", "IntegerValue", "FloatingValue",
          "StringValue", "TemporalValue", "TimestampValue", "DateValue", "TimeValue", "IntervalValue",
          "BooleanValue", "ArrayValue", "MapValue", "StructValue", "JSONValue", "DecimalValue", "BinaryValue")


@dataclass(frozen=True)
class DocExample:
    api: str  # e.g. "Table.filter"
    signature: str
    summary: str
    setup: dict[str, dict[str, str]]  # memtable variable -> column -> type
    data: dict[str, Any]  # memtable variable -> ibis.memtable object (not serialised)
    code: str  # the expression statement(s), ending with the result
    setup_code: str  # the memtable statements that build ``data``


def _apis() -> Iterator[tuple[str, Any]]:
    for owner in OWNERS:
        cls = getattr(ir, owner, None)
        if cls is None:
            continue
        for name, member in sorted(vars(cls).items()):
            if not name.startswith("_") and callable(member) and getattr(member, "__doc__", None):
                yield f"{owner}.{name}", member
    for name in sorted(getattr(ibis, "__all__", ())):
        member = vars(ibis).get(name)
        if member is not None and not name.startswith("_") and inspect.isfunction(member) and member.__doc__:
            yield f"ibis.{name}", member


def _summary(doc: str) -> str:
    first = inspect.cleandoc(doc).split("\n\n", 1)[0]
    return " ".join(first.split())


def _signature(member: Any) -> str:
    try:
        return str(inspect.signature(member))
    except (TypeError, ValueError):
        return "(...)"


def examples(rejections) -> Iterator[DocExample]:
    """Executed examples of the installed Ibis (rejections counted under ``docstring:*``)."""
    parser = doctest.DocTestParser()
    for api, member in _apis():
        doc = inspect.getdoc(member) or ""
        if "Examples" not in doc:
            continue
        statements = [e.source.strip() for e in parser.get_examples(doc)]
        if not statements:
            continue
        if any(_SKIP.search(s) for s in statements):
            rejections.add("docstring", "needs data, network or I/O")
            continue
        namespace: dict[str, Any] = {"ibis": ibis, "_": ibis._}
        tables: dict[str, ir.Table] = {}
        executed: list[str] = []  # assignments so far, in order: what rebuilds the memtables
        kept = 0
        for source in statements:
            if source.startswith(("import ", "from ")) or "options" in source:
                continue
            try:
                with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
                    warnings.simplefilter("ignore")
                    if re.match(r"^[A-Za-z_]\w*\s*=\s*ibis\.memtable\(", source):
                        exec(source, namespace)  # noqa: S102 - the installed library's own docs
                        executed.append(source)
                        var = source.split("=", 1)[0].strip()
                        if isinstance(namespace[var], ir.Table):
                            tables[var] = namespace[var]
                        continue
                    value = eval(compile(source, "<doc>", "eval"), namespace)  # noqa: S307
            except SyntaxError:
                try:
                    exec(source, namespace)  # noqa: S102 - an assignment in the example
                    executed.append(source)
                except Exception:  # noqa: BLE001
                    rejections.add("docstring", "example statement fails")
                    break
                continue
            except Exception:  # noqa: BLE001
                rejections.add("docstring", "example statement fails")
                break
            if isinstance(value, ir.Expr) and tables and kept < 3 and not source.isidentifier():
                used = {v: t for v, t in tables.items() if re.search(rf"\b{re.escape(v)}\b", source)}
                if used:
                    kept += 1
                    yield DocExample(
                        api=api, signature=_signature(member), summary=_summary(doc),
                        setup={v: {c: str(ty) for c, ty in t.schema().items()} for v, t in used.items()},
                        data=used, code=source + "\n", setup_code="\n".join(executed) + "\n",
                    )
