"""Scalar SQL expressions → Ibis Python, one rule per sqlglot node type.

``ScalarRenderer.RULES`` maps a node class to the method that renders it, in sqlglot's
generator style: supporting a new construct means adding one rule. Column references,
subqueries and post-aggregation replacements are delegated to the ``Context`` the relation
translator supplies, so this module knows nothing about FROM clauses or scopes.
"""

from __future__ import annotations

from typing import Callable, Protocol

from sqlglot import exp

from ibert_jupyter.sql.transpile.catalog import ibis_type
from ibert_jupyter.sql.transpile.code import (
    PREC_ADD,
    PREC_AND,
    PREC_COMPARE,
    PREC_MUL,
    PREC_OR,
    PREC_UNARY,
    Code,
)
from ibert_jupyter.sql.transpile.errors import UnsupportedSQL


class Context(Protocol):
    """What the scalar renderer needs from the query being translated."""

    def column(self, node: exp.Column) -> Code: ...

    def replacement(self, node: exp.Expression) -> Code | None: ...

    def subquery_scalar(self, node: exp.Subquery) -> Code: ...

    def subquery_column(self, node: exp.Expression) -> Code: ...

    def exists(self, node: exp.Exists) -> Code: ...

    def grouping(self, node: exp.Grouping) -> Code: ...


_COMPARISONS = {exp.EQ: "==", exp.NEQ: "!=", exp.GT: ">", exp.GTE: ">=", exp.LT: "<", exp.LTE: "<="}
_ARITHMETIC = {exp.Add: ("+", PREC_ADD), exp.Sub: ("-", PREC_ADD), exp.Mul: ("*", PREC_MUL),
               exp.Mod: ("%", PREC_MUL), exp.IntDiv: ("//", PREC_MUL)}
_INTERVAL_UNITS = {
    "YEAR": "years", "YEARS": "years", "MONTH": "months", "MONTHS": "months",
    "WEEK": "weeks", "WEEKS": "weeks", "DAY": "days", "DAYS": "days", "HOUR": "hours",
    "HOURS": "hours", "MINUTE": "minutes", "MINUTES": "minutes", "SECOND": "seconds",
    "SECONDS": "seconds", "QUARTER": "quarters",
}
_DATE_PARTS = {
    "YEAR": "year", "MONTH": "month", "DAY": "day", "QUARTER": "quarter", "HOUR": "hour",
    "MINUTE": "minute", "SECOND": "second", "WEEK": "week_of_year", "DOY": "day_of_year",
    "DAYOFYEAR": "day_of_year", "ISOWEEK": "week_of_year", "WEEKOFYEAR": "week_of_year",
}
# Aggregates whose Ibis method takes no arguments besides the column (and ``where=``).
_SIMPLE_AGGREGATES = {
    exp.Sum: "sum", exp.Avg: "mean", exp.Min: "min", exp.Max: "max",
    exp.StddevSamp: "std", exp.Stddev: "std", exp.Variance: "var",
    exp.ArgMax: "argmax", exp.ArgMin: "argmin", exp.LogicalAnd: "all", exp.LogicalOr: "any",
}
# Population statistics: the same Ibis method with ``how="pop"`` (its default is the sample).
_POPULATION = {exp.VariancePop: "var", exp.StddevPop: "std"}
_METHODS = {
    exp.Upper: "upper", exp.Lower: "lower", exp.Length: "length", exp.Abs: "abs",
    exp.Ceil: "ceil", exp.Floor: "floor", exp.Sqrt: "sqrt", exp.Exp: "exp", exp.Ln: "ln",
    exp.Year: "year", exp.Month: "month", exp.Day: "day", exp.Quarter: "quarter",
    exp.Hour: "hour", exp.Minute: "minute", exp.Second: "second", exp.DayOfYear: "day_of_year",
    exp.WeekOfYear: "week_of_year", exp.Reverse: "reverse", exp.Sign: "sign",
}
# Date/time units as SQL spells them -> Ibis's truncate()/delta() unit.
_TRUNCATE_UNITS = {
    unit: unit.lower()
    for unit in ("YEAR", "QUARTER", "MONTH", "WEEK", "DAY", "HOUR", "MINUTE", "SECOND", "MILLISECOND")
}
_TIME_UNITS = {"HOUR", "MINUTE", "SECOND", "MILLISECOND", "MICROSECOND"}
_DELTA_UNITS = {
    "YEAR": "year", "QUARTER": "quarter", "MONTH": "month", "WEEK": "week", "DAY": "day",
    "HOUR": "hour", "MINUTE": "minute", "SECOND": "second", "MILLISECOND": "millisecond",
    "MICROSECOND": "microsecond",
}
_UNIT_ALIASES = {"YEARS": "YEAR", "MONTHS": "MONTH", "DAYS": "DAY", "HOURS": "HOUR", "MINUTES": "MINUTE",
                 "SECONDS": "SECOND", "WEEKS": "WEEK", "QUARTERS": "QUARTER", "MS": "MILLISECOND",
                 "US": "MICROSECOND", "D": "DAY", "DD": "DAY", "MM": "MONTH", "YY": "YEAR", "YYYY": "YEAR",
                 "HH": "HOUR", "MI": "MINUTE", "SS": "SECOND", "DAYOFMONTH": "DAY"}
# Functions refused on purpose: Ibis has a similar method whose results differ.
_DIFFERENT_SEMANTICS = {
    "STRLEN": "DuckDB's strlen counts bytes, Ibis's length() counts characters: use LENGTH(...) if you mean characters",
    "OCTET_LENGTH": "octet_length counts bytes, Ibis's length() counts characters",
    "INITCAP": "INITCAP capitalises every word, Ibis's capitalize() only the first letter",
    "SPLITPART": "SPLIT_PART gives '' past the last part, indexing Ibis's split() gives NULL",
    "GROUPCONCAT": "the order of the concatenated values is unspecified in SQL",
    "ARRAYAGG": "the order of the collected values is unspecified in SQL",
    "ANYVALUE": "it returns an arbitrary value of each group",
}
_RANKING = {exp.Rank: "rank", exp.DenseRank: "dense_rank", exp.RowNumber: "row_number"}


def _literal_int(node: exp.Expression) -> int | None:
    if isinstance(node, exp.Literal) and not node.is_string:
        try:
            return int(node.this)
        except ValueError:
            return None
    if isinstance(node, exp.Neg):
        inner = _literal_int(node.this)
        return -inner if inner is not None else None
    return None


def _widened(date: Code) -> Code:
    """A date as the timestamp of its midnight (a date literal becomes a timestamp literal)."""
    if date.text.startswith("ibis.date(") and date.text.count("(") == 1:
        return Code("ibis.timestamp(" + date.text[len("ibis.date("):])
    return Code(f"{date.receiver()}.cast('timestamp')")


def _temporal_kind(node: exp.Expression) -> str | None:
    """'date' or 'timestamp' from sqlglot's type annotation (None when unknown)."""
    dtype = node.type
    if dtype is None:
        return None
    if dtype.this == exp.DataType.Type.DATE:
        return "date"
    if dtype.this in exp.DataType.TEMPORAL_TYPES:
        return "timestamp"
    return None


def _matches_at_most_once(pattern: str) -> bool:
    """Whether a regex can match only once in a string: anchored at the start, no top-level ``|``.

    Then replacing the first match and replacing every match give the same string.
    """
    if not pattern.startswith("^") or pattern.startswith("^*"):
        return False
    depth, i = 0, 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "[":  # skip a character class
            j = pattern.find("]", i + 2)
            i = j + 1 if j > 0 else len(pattern)
            continue
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            return False
        i += 1
    return "(?m" not in pattern


class ScalarRenderer:
    """Renders one scalar expression tree against a ``Context``."""

    def __init__(self, ctx: Context, dialect: str = "duckdb"):
        self.ctx = ctx
        self.dialect = dialect

    # -- entry point --------------------------------------------------------------------
    def __call__(self, node: exp.Expression) -> Code:
        replaced = self.ctx.replacement(node)
        if replaced is not None:
            return replaced
        if node.args.get("negate"):
            if isinstance(node, exp.In):
                return self.in_(node, negate=True)
            if isinstance(node, exp.Is) and isinstance(node.expression, exp.Null):
                return Code(f"{self(node.this).receiver()}.notnull()")
            positive = node.copy()
            positive.set("negate", None)
            return Code(f"~{self(positive).wrap(PREC_UNARY)}", PREC_UNARY)
        for cls in type(node).__mro__:
            rule = self.RULES.get(cls)
            if rule is not None:
                return rule(self, node)
        raise UnsupportedSQL(f"{type(node).__name__} expression", node)

    def value(self, node: exp.Expression) -> str:
        return self(node).value()

    # -- leaves -------------------------------------------------------------------------
    def column(self, node: exp.Column) -> Code:
        return self.ctx.column(node)

    def literal(self, node: exp.Literal) -> Code:
        if node.is_string:
            return Code(repr(node.this), literal=True)
        text = node.this
        try:
            value = int(text)
        except ValueError:
            value = float(text)
        return Code(repr(value), literal=True)

    def boolean(self, node: exp.Boolean) -> Code:
        return Code(repr(bool(node.this)), literal=True)

    def null(self, node: exp.Null) -> Code:
        return Code("ibis.null()")

    def paren(self, node: exp.Paren) -> Code:
        return self(node.this)

    def alias(self, node: exp.Alias) -> Code:
        return self(node.this)

    # -- operators ----------------------------------------------------------------------
    def binary(self, node: exp.Binary) -> Code:
        op, prec = _ARITHMETIC[type(node)]
        left, right = self(node.this), self(node.expression)
        if left.literal and right.literal:
            left = Code(left.value())
        return Code(f"{left.wrap(prec)} {op} {right.wrap(prec + 1)}", prec)

    def div(self, node: exp.Div) -> Code:
        if node.args.get("typed"):
            raise UnsupportedSQL("typed (integer) division", node, "rewrite with CAST to a decimal type")
        left, right = self(node.this), self(node.expression)
        if left.literal and right.literal:
            left = Code(left.value())
        return Code(f"{left.wrap(PREC_MUL)} / {right.wrap(PREC_MUL + 1)}", PREC_MUL)

    def neg(self, node: exp.Neg) -> Code:
        inner = self(node.this)
        if inner.literal:
            return Code(f"-{inner.text}", PREC_UNARY, literal=True)
        return Code(f"-{inner.wrap(PREC_UNARY)}", PREC_UNARY)

    def comparison(self, node: exp.Binary) -> Code:
        left, right = self(node.this), self(node.expression)
        if left.literal and right.literal:
            left = Code(left.value())
        op = _COMPARISONS[type(node)]
        return Code(f"{left.wrap(PREC_COMPARE + 1)} {op} {right.wrap(PREC_COMPARE + 1)}", PREC_COMPARE)

    def and_(self, node: exp.And) -> Code:
        parts = [self(p).wrap(PREC_AND + 1) for p in node.flatten()]
        return Code(" & ".join(parts), PREC_AND)

    def or_(self, node: exp.Or) -> Code:
        parts = [self(p).wrap(PREC_OR + 1) for p in node.flatten()]
        return Code(" | ".join(parts), PREC_OR)

    def not_(self, node: exp.Not) -> Code:
        inner = node.this
        while isinstance(inner, exp.Paren):
            inner = inner.this
        if isinstance(inner, exp.Is) and isinstance(inner.expression, exp.Null):
            return Code(f"{self(inner.this).receiver()}.notnull()")
        if isinstance(inner, exp.In):
            return self.in_(inner, negate=True)
        return Code(f"~{self(inner).wrap(PREC_UNARY)}", PREC_UNARY)

    def is_(self, node: exp.Is) -> Code:
        if isinstance(node.expression, exp.Null):
            return Code(f"{self(node.this).receiver()}.isnull()")
        raise UnsupportedSQL("IS with a non-NULL right side", node)

    def between(self, node: exp.Between) -> Code:
        return Code(
            f"{self(node.this).receiver()}.between({self(node.args['low']).text}, "
            f"{self(node.args['high']).text})"
        )

    def like(self, node: exp.Like) -> Code:
        method = "ilike" if isinstance(node, exp.ILike) else "like"
        if node.args.get("escape"):
            raise UnsupportedSQL("LIKE ... ESCAPE", node)
        return Code(f"{self(node.this).receiver()}.{method}({self(node.expression).text})")

    def in_(self, node: exp.In, negate: bool = False) -> Code:
        method = "notin" if negate else "isin"
        subject = self(node.this).receiver()
        if node.args.get("query") is not None:
            return Code(f"{subject}.{method}({self.ctx.subquery_column(node.args['query']).text})")
        if node.args.get("unnest") is not None or node.args.get("field") is not None:
            raise UnsupportedSQL("IN over UNNEST", node)
        values = [self(v) for v in node.expressions]
        if len(values) == 1 and not values[0].literal and node.expressions[0].find(exp.Select):
            return Code(f"{subject}.{method}({values[0].text})")
        items = ", ".join(v.text for v in values)
        return Code(f"{subject}.{method}([{items}])")

    def exists(self, node: exp.Exists) -> Code:
        return self.ctx.exists(node)

    def subquery(self, node: exp.Subquery) -> Code:
        return self.ctx.subquery_scalar(node)

    # -- conditionals -------------------------------------------------------------------
    def case(self, node: exp.Case) -> Code:
        branches = [
            f"({self(w.this).value()}, {self(w.args['true']).value()})" for w in node.args["ifs"]
        ]
        default = node.args.get("default")
        else_ = f", else_={self(default).value()}" if default is not None else ""
        subject = node.this
        if subject is not None:
            simple = [f"({self(w.this).text}, {self(w.args['true']).value()})" for w in node.args["ifs"]]
            return Code(f"{self(subject).receiver()}.cases({', '.join(simple)}{else_})")
        return Code(f"ibis.cases({', '.join(branches)}{else_})")

    def if_(self, node: exp.If) -> Code:
        false = node.args.get("false")
        false_text = self(false).value() if false is not None else "ibis.null()"
        return Code(f"ibis.ifelse({self(node.this).value()}, {self(node.args['true']).value()}, {false_text})")

    def coalesce(self, node: exp.Coalesce) -> Code:
        args = [self(node.this).value()] + [self(e).value() for e in node.expressions]
        return Code(f"ibis.coalesce({', '.join(args)})")

    def nullif(self, node: exp.Nullif) -> Code:
        return Code(f"{self(node.this).receiver()}.nullif({self(node.expression).text})")

    def greatest(self, node: exp.Greatest) -> Code:
        args = [self(node.this).value()] + [self(e).value() for e in node.expressions]
        return Code(f"ibis.greatest({', '.join(args)})")

    def least(self, node: exp.Least) -> Code:
        args = [self(node.this).value()] + [self(e).value() for e in node.expressions]
        return Code(f"ibis.least({', '.join(args)})")

    # -- types, dates, intervals --------------------------------------------------------
    def cast(self, node: exp.Cast) -> Code:
        target = node.to
        if target.this in (exp.DataType.Type.USERDEFINED, exp.DataType.Type.UNKNOWN):
            raise UnsupportedSQL(f"CAST to {target.sql()}", node)
        try:
            dtype = ibis_type(target)
        except Exception as exc:  # noqa: BLE001 - any failure means Ibis has no such type
            raise UnsupportedSQL(f"CAST to {target.sql()}", node) from exc
        inner = self(node.this)
        if isinstance(node.this, exp.Literal) and node.this.is_string:
            if dtype.is_date():
                return Code(f"ibis.date({inner.text})")
            if dtype.is_timestamp():
                return Code(f"ibis.timestamp({inner.text})")
        if inner.literal:
            return Code(f"ibis.literal({inner.text}, type={str(dtype)!r})")
        method = "try_cast" if isinstance(node, exp.TryCast) else "cast"  # TRY_CAST: NULL on failure
        return Code(f"{inner.receiver()}.{method}({str(dtype)!r})")

    def interval(self, node: exp.Interval) -> Code:
        unit_node = node.args.get("unit")
        unit = unit_node.name.upper() if unit_node is not None else ""
        amount_node = node.this
        if not unit and isinstance(amount_node, exp.Literal) and amount_node.is_string:
            parts = amount_node.this.split()
            if len(parts) == 2:
                amount_node, unit = exp.Literal.number(parts[0]), parts[1].upper()
        keyword = _INTERVAL_UNITS.get(unit)
        if keyword is None:
            raise UnsupportedSQL(f"INTERVAL unit {unit or '?'}", node)
        if isinstance(amount_node, exp.Literal):
            try:
                amount = int(float(amount_node.this))
            except ValueError as exc:
                raise UnsupportedSQL("non-numeric INTERVAL amount", node) from exc
            if float(amount_node.this) != amount:
                raise UnsupportedSQL("fractional INTERVAL amount", node)
            return Code(f"ibis.interval({keyword}={amount})")
        return Code(f"{self(amount_node).receiver()}.as_interval({keyword[:-1]!r})")

    def date_add(self, node: exp.Expression) -> Code:
        unit_node = node.args.get("unit")
        unit = unit_node.name.upper() if unit_node is not None else "DAY"
        keyword = _INTERVAL_UNITS.get(unit)
        if keyword is None:
            raise UnsupportedSQL(f"{type(node).__name__} with unit {unit}", node)
        amount = node.expression
        if isinstance(amount, exp.Interval):  # BigQuery: DATE_ADD(d, INTERVAL n DAY)
            interval = self.interval(amount)
        elif _literal_int(amount) is not None:
            interval = Code(f"ibis.interval({keyword}={_literal_int(amount)})")
        elif isinstance(amount, exp.Literal) and amount.name.lstrip("-").isdigit():  # sqlglot keeps '7'
            interval = Code(f"ibis.interval({keyword}={int(amount.name)})")
        else:
            interval = Code(f"{self(amount).receiver()}.as_interval({keyword[:-1]!r})")
        op = "-" if isinstance(node, (exp.DateSub, exp.TimestampSub)) else "+"
        return Code(f"{self(node.this).wrap(PREC_ADD)} {op} {interval.text}", PREC_ADD)

    def extract(self, node: exp.Extract) -> Code:
        part = node.this.name.upper()
        if part in ("DOW", "DAYOFWEEK", "WEEKDAY", "ISODOW", "DAYOFWEEKISO", "DAYOFWEEK_ISO"):
            cls = exp.DayOfWeekIso if "ISO" in part else exp.DayOfWeek
            return self.day_of_week(cls(this=node.expression))
        if part == "WEEK" and self.dialect == "bigquery":
            raise UnsupportedSQL("EXTRACT(WEEK) in BigQuery", node,
                                 "BigQuery weeks start on Sunday, Ibis's week_of_year() is the ISO week: use ISOWEEK")
        if part == "EPOCH":
            raise UnsupportedSQL("EXTRACT(EPOCH)", node,
                                 "it keeps fractions of a second, Ibis's epoch_seconds() does not")
        method = _DATE_PARTS.get(part)
        if method is None:
            raise UnsupportedSQL(f"EXTRACT({part})", node)
        return Code(f"{self._as_time(node.expression, part)}.{method}()")

    def _as_time(self, node: exp.Expression, part: str) -> str:
        """The receiver for a time part: a date is read as its midnight timestamp, as in SQL."""
        subject = self(node).receiver()
        if part in ("HOUR", "MINUTE", "SECOND") and _temporal_kind(node) == "date":
            return f"{subject}.cast('timestamp')"
        return subject

    def to_date(self, node: exp.Expression) -> Code:
        """``DATE(timestamp)``: the calendar date."""
        if node.expressions or node.args.get("zone") is not None:
            raise UnsupportedSQL("DATE() with several arguments or a time zone", node)
        inner = self(node.this)
        if isinstance(node.this, exp.Literal) and node.this.is_string:
            return Code(f"ibis.date({inner.text})")
        return Code(f"{inner.receiver()}.date()")

    def make_date(self, node: exp.DateFromParts) -> Code:
        parts = [node.args.get(k) for k in ("year", "month", "day")]
        if any(p is None for p in parts):
            raise UnsupportedSQL("MAKE_DATE without year, month and day", node)
        return Code(f"ibis.date({', '.join(self(p).value() if not self(p).literal else self(p).text for p in parts)})")

    def strftime(self, node: exp.TimeToStr) -> Code:
        if self.dialect != "duckdb":
            raise UnsupportedSQL(f"date formatting in {self.dialect}", node,
                                 "format codes differ between engines; Ibis's strftime() uses DuckDB's")
        fmt = node.args.get("format")
        if not isinstance(fmt, exp.Literal) or not fmt.is_string:
            raise UnsupportedSQL("strftime with a non-constant format", node)
        return Code(f"{self(node.this).receiver()}.strftime({fmt.name!r})")

    def median(self, node: exp.Median, where: str | None = None) -> Code:
        arg_type = node.this.type
        if arg_type is None or arg_type.this not in exp.DataType.NUMERIC_TYPES:
            raise UnsupportedSQL("MEDIAN of a non-numeric value", node,
                                 "DuckDB picks an existing value there, Ibis's median() interpolates")
        kw = f"where={where}" if where else ""
        return Code(f"{self(node.this).receiver()}.median({kw})")

    def current_date(self, node: exp.Expression) -> Code:
        raise UnsupportedSQL("CURRENT_DATE (non-deterministic)", node)

    # -- strings ------------------------------------------------------------------------
    def substring(self, node: exp.Substring) -> Code:
        subject = self(node.this).receiver()
        start = node.args.get("start")
        length = node.args.get("length")
        start_int = _literal_int(start) if start is not None else 1
        if start_int is None or start_int < 1:
            raise UnsupportedSQL("SUBSTRING with a non-constant or non-positive start", node)
        args = str(start_int - 1)
        if length is not None:
            args += f", {self(length).text}"
        return Code(f"{subject}.substr({args})")

    def concat(self, node: exp.Expression) -> Code:
        parts = [node.this, node.expression] if isinstance(node, exp.DPipe) else list(node.expressions)
        rendered = [self(p) for p in parts]
        if node.args.get("coalesce"):  # CONCAT treats NULL as '', unlike ||
            rendered = [r if r.literal else Code(f"{r.receiver()}.fill_null('')") for r in rendered]
        first, rest = rendered[0], rendered[1:]
        return Code(f"{first.receiver()}.concat({', '.join(r.text for r in rest)})")

    def trim(self, node: exp.Trim) -> Code:
        if node.expression is not None:
            raise UnsupportedSQL("TRIM of specific characters", node)
        position = (node.args.get("position") or "").upper()
        method = {"LEADING": "lstrip", "TRAILING": "rstrip"}.get(position, "strip")
        return Code(f"{self(node.this).receiver()}.{method}()")

    def method(self, node: exp.Func) -> Code:
        name = _METHODS[type(node)]
        return Code(f"{self._as_time(node.this, name.upper())}.{name}()")

    def round_(self, node: exp.Round) -> Code:
        digits = node.args.get("decimals")
        args = self(digits).text if digits is not None else ""
        return Code(f"{self(node.this).receiver()}.round({args})")


    # -- dates: truncation, differences, parts ------------------------------------------
    def _unit(self, node: exp.Expression, key: str = "unit", default: str | None = None) -> str:
        unit_node = node.args.get(key)
        if unit_node is None:
            if default is None:
                raise UnsupportedSQL(f"{type(node).__name__} without a unit", node)
            return default
        if isinstance(unit_node, exp.Literal) or isinstance(unit_node, (exp.Var, exp.Column, exp.Identifier)):
            text = unit_node.name.upper()
        elif isinstance(unit_node, exp.WeekStart):
            raise UnsupportedSQL(f"{unit_node.sql(self.dialect)} unit", node)
        else:
            raise UnsupportedSQL(f"non-constant unit in {type(node).__name__}", node)
        text = _UNIT_ALIASES.get(text, text)
        if text == "WEEK" and self.dialect == "bigquery":
            raise UnsupportedSQL(
                "WEEK unit in BigQuery", node,
                "BigQuery weeks start on Sunday, Ibis's start on Monday: use WEEK(MONDAY) or ISOWEEK",
            )
        return "WEEK" if text in ("ISOWEEK", "WEEK(MONDAY)") else text

    def truncate(self, node: exp.Expression) -> Code:
        unit = self._unit(node)
        code = _TRUNCATE_UNITS.get(unit)
        if code is None:
            raise UnsupportedSQL(f"truncation to {unit}", node)
        subject = self(node.this)
        if unit in _TIME_UNITS and _temporal_kind(node.this) == "date":  # a date at midnight
            subject = _widened(subject)
        return Code(f"{subject.receiver()}.truncate({code!r})")

    def date_diff(self, node: exp.DateDiff) -> Code:
        """``DATEDIFF``/``DATE_DIFF``: unit boundaries crossed from start to end, as Ibis's delta."""
        unit = self._unit(node, default="DAY")
        name = _DELTA_UNITS.get(unit)
        if name is None:
            raise UnsupportedSQL(f"date difference in {unit}", node)
        end, start = self(node.this), self(node.expression)
        kinds = [_temporal_kind(n) for n in (node.this, node.expression)]
        if set(kinds) == {"date", "timestamp"} or (unit in _TIME_UNITS and "date" in kinds):
            # SQL widens the date to a timestamp; Ibis wants one type, and time units need times
            end, start = [_widened(c) if k == "date" else c for c, k in zip((end, start), kinds)]
        return Code(f"{end.receiver()}.delta({start.value()}, unit={name!r})")

    def timestamp_diff(self, node: exp.Expression) -> Code:
        raise UnsupportedSQL(
            f"{type(node).__name__}", node,
            "it counts whole units elapsed, Ibis's delta() counts unit boundaries crossed: "
            "use DATE_DIFF on dates or divide an epoch difference",
        )

    def day_of_week(self, node: exp.Expression) -> Code:
        index = f"{self(node.this).receiver()}.day_of_week.index()"  # Monday = 0
        if isinstance(node, exp.DayOfWeekIso):
            return Code(f"{index} + 1", PREC_ADD)
        if self.dialect == "bigquery":  # Sunday = 1 ... Saturday = 7
            return Code(f"({index} + 1) % 7 + 1", PREC_ADD)
        return Code(f"({index} + 1) % 7", PREC_MUL)  # Sunday = 0 ... Saturday = 6

    def date_part(self, node: exp.Anonymous) -> Code:
        """``date_part('unit', x)`` as EXTRACT."""
        if len(node.expressions) != 2 or not isinstance(node.expressions[0], exp.Literal):
            raise UnsupportedSQL("date_part with a non-constant part", node)
        part, subject = node.expressions
        return self.extract(exp.Extract(this=exp.var(part.name), expression=subject))

    # -- strings and regular expressions -------------------------------------------------
    def str_position(self, node: exp.StrPosition) -> Code:
        if node.args.get("position") is not None or node.args.get("occurrence") is not None:
            raise UnsupportedSQL("POSITION/STRPOS with a start position", node)
        return Code(f"{self(node.this).receiver()}.find({self(node.args['substr']).text}) + 1", PREC_ADD)

    def starts_with(self, node: exp.Expression) -> Code:
        method = {exp.StartsWith: "startswith", exp.EndsWith: "endswith", exp.Contains: "contains"}[type(node)]
        return Code(f"{self(node.this).receiver()}.{method}({self(node.expression).text})")

    def left_right(self, node: exp.Expression) -> Code:
        method = "left" if isinstance(node, exp.Left) else "right"
        return Code(f"{self(node.this).receiver()}.{method}({self(node.expression).text})")

    def replace(self, node: exp.Replace) -> Code:
        return Code(
            f"{self(node.this).receiver()}.replace({self(node.expression).text}, "
            f"{self(node.args['replacement']).text})"
        )

    def pad(self, node: exp.Pad) -> Code:
        fill = node.args.get("fill_pattern")
        method = "lpad" if node.args.get("is_left") else "rpad"
        args = [self(node.expression).text] + ([self(fill).text] if fill is not None else [])
        return Code(f"{self(node.this).receiver()}.{method}({', '.join(args)})")

    def repeat(self, node: exp.Repeat) -> Code:
        return Code(f"{self(node.this).receiver()}.repeat({self(node.args['times']).text})")

    def _pattern(self, node: exp.Expression) -> str:
        pattern = node.expression
        if not isinstance(pattern, (exp.Literal, exp.RawString)) or (
            isinstance(pattern, exp.Literal) and not pattern.is_string
        ):
            raise UnsupportedSQL("regular expression that is not a string constant", node)
        return pattern.name

    def regexp_like(self, node: exp.Expression) -> Code:
        pattern = self._pattern(node)
        if node.args.get("flag") is not None:
            raise UnsupportedSQL("regular expression match with flags", node)
        if node.args.get("full_match"):  # Snowflake's REGEXP_LIKE matches the whole string
            pattern = f"^(?:{pattern})$"
        if isinstance(node, exp.RegexpILike):
            pattern = f"(?i){pattern}"
        return Code(f"{self(node.this).receiver()}.re_search({pattern!r})")

    def regexp_replace(self, node: exp.RegexpReplace) -> Code:
        pattern = self._pattern(node)
        if any(node.args.get(a) is not None for a in ("position", "occurrence")):
            raise UnsupportedSQL("REGEXP_REPLACE with a position or occurrence", node)
        modifiers = node.args.get("modifiers")
        flags = modifiers.name if isinstance(modifiers, exp.Literal) else None
        if modifiers is not None and flags is None or flags and set(flags) - {"g"}:
            raise UnsupportedSQL("REGEXP_REPLACE flags other than 'g'", node)
        first_only = node.args.get("single_replace") or self.dialect in ("duckdb", "postgres")
        if first_only and not flags and not _matches_at_most_once(pattern):
            raise UnsupportedSQL(
                "REGEXP_REPLACE without the 'g' flag", node,
                "it replaces only the first match, Ibis's re_replace() replaces every match: "
                "add 'g' if you mean every match",
            )
        replacement = node.args.get("replacement")
        repl = self(replacement).text if replacement is not None else "''"
        return Code(f"{self(node.this).receiver()}.re_replace({pattern!r}, {repl})")

    def regexp_extract(self, node: exp.RegexpExtract) -> Code:
        if self.dialect != "duckdb":
            raise UnsupportedSQL(
                f"REGEXP_EXTRACT in {self.dialect}", node,
                "its result when nothing matches differs between engines (NULL or '')",
            )
        if any(node.args.get(a) is not None for a in ("position", "occurrence", "parameters")):
            raise UnsupportedSQL("REGEXP_EXTRACT with options", node)
        group = node.args.get("group")
        index = _literal_int(group) if group is not None else 0
        if index is None:
            raise UnsupportedSQL("REGEXP_EXTRACT with a non-constant group", node)
        return Code(f"{self(node.this).receiver()}.re_extract({self._pattern(node)!r}, {index})")

    # -- numbers ------------------------------------------------------------------------
    def log(self, node: exp.Log) -> Code:
        if node.expression is None:  # LOG(x): base 10 where sqlglot keeps it as Log
            return Code(f"{self(node.this).receiver()}.log10()")
        base = _literal_int(node.this)
        subject = self(node.expression).receiver()
        if base == 10:
            return Code(f"{subject}.log10()")
        if base == 2:
            return Code(f"{subject}.log2()")
        return Code(f"{subject}.log({self(node.this).text})")

    def power(self, node: exp.Pow) -> Code:
        left, right = self(node.this), self(node.expression)
        return Code(f"{left.receiver() if left.literal else left.wrap(PREC_UNARY + 1)} ** {right.wrap(PREC_UNARY)}", PREC_UNARY)

    def null_safe_eq(self, node: exp.Expression) -> Code:
        text = f"{self(node.this).receiver()}.identical_to({self(node.expression).text})"
        if isinstance(node, exp.NullSafeNEQ):
            return Code(f"~{text}", PREC_UNARY)
        return Code(text)

    # -- aggregates ---------------------------------------------------------------------
    def aggregate(self, node: exp.AggFunc, where: str | None = None) -> Code:
        arg = node.this
        if isinstance(arg, exp.Distinct):
            raise UnsupportedSQL(f"{type(node).__name__.upper()}(DISTINCT ...)", node)
        kw = f"where={where}" if where else ""
        subject = self(arg).receiver()
        if isinstance(node, exp.Avg) and arg.type is not None and arg.type.this == exp.DataType.Type.DECIMAL:
            subject = f"{subject}.cast('float64')"  # SQL averages decimals as DOUBLE
        return Code(f"{subject}.{_SIMPLE_AGGREGATES[type(node)]}({kw})")

    def population(self, node: exp.AggFunc, where: str | None = None) -> Code:
        kw = f", where={where}" if where else ""
        return Code(f"{self(node.this).receiver()}.{_POPULATION[type(node)]}(how='pop'{kw})")

    def count_if(self, node: exp.CountIf, where: str | None = None) -> Code:
        cond = self(node.this).wrap(0)
        if where:
            cond = f"({cond}) & ({where})"
        return Code(f"{self.ctx.table_ref()}.count(where={cond})")

    def count(self, node: exp.Count, where: str | None = None) -> Code:
        arg = node.this
        kw = f"where={where}" if where else ""
        if arg is None or isinstance(arg, exp.Star):
            return Code(f"{self.ctx.table_ref()}.count({kw})")
        if isinstance(arg, exp.Distinct):
            if len(arg.expressions) != 1:
                raise UnsupportedSQL("COUNT(DISTINCT) over several columns", node)
            return Code(f"{self(arg.expressions[0]).receiver()}.nunique({kw})")
        return Code(f"{self(arg).receiver()}.count({kw})")

    def filtered_aggregate(self, node: exp.Filter) -> Code:
        where = self(node.expression.this).text
        inner = node.this
        if isinstance(inner, exp.Count):
            return self.count(inner, where)
        if type(inner) in _SIMPLE_AGGREGATES:
            return self.aggregate(inner, where)
        if type(inner) in _POPULATION:
            return self.population(inner, where)
        if isinstance(inner, exp.CountIf):
            return self.count_if(inner, where)
        if isinstance(inner, exp.Median):
            return self.median(inner, where)
        raise UnsupportedSQL("FILTER on this aggregate", node)

    def grouping(self, node: exp.Grouping) -> Code:
        return self.ctx.grouping(node)

    # -- windows ------------------------------------------------------------------------
    def window(self, node: exp.Window) -> Code:
        func = node.this
        spec = node.args.get("spec")
        order = node.args.get("order")
        partition = node.args.get("partition_by") or []
        if node.args.get("alias") is not None:
            raise UnsupportedSQL("named WINDOW clauses", node)
        kwargs = []
        if partition:
            keys = [self(p).value() for p in partition]
            kwargs.append(f"group_by={keys[0] if len(keys) == 1 else '[' + ', '.join(keys) + ']'}")
        if order is not None:
            keys = [self.sort_key(o) for o in order.expressions]
            kwargs.append(f"order_by={keys[0] if len(keys) == 1 else '[' + ', '.join(keys) + ']'}")
        ranking = _RANKING.get(type(func))
        if ranking is not None:
            return Code(f"ibis.{ranking}().over({', '.join(kwargs)}) + 1", PREC_ADD)
        if isinstance(func, exp.Ntile):  # Ibis numbers tiles from 0, SQL from 1
            buckets = _literal_int(func.this) if func.this is not None else None
            if buckets is None or buckets < 1:
                raise UnsupportedSQL("NTILE with a non-constant or non-positive count", node)
            return Code(f"ibis.ntile({buckets}).over({', '.join(kwargs)}) + 1", PREC_ADD)
        if isinstance(func, (exp.PercentRank, exp.CumeDist)):
            name = "percent_rank" if isinstance(func, exp.PercentRank) else "cume_dist"
            return Code(f"ibis.{name}().over({', '.join(kwargs)})")
        if isinstance(func, (exp.Lag, exp.Lead)):
            method = "lag" if isinstance(func, exp.Lag) else "lead"
            args = [self(a).text for a in (func.args.get("offset"), func.args.get("default")) if a is not None]
            return Code(f"{self(func.this).receiver()}.{method}({', '.join(args)}).over({', '.join(kwargs)})")
        if isinstance(func, (exp.FirstValue, exp.LastValue)):
            frame = self.frame(spec, node) if spec is not None else None
            method = "first" if isinstance(func, exp.FirstValue) else "last"
            if method == "last" and (frame is None and order is not None or frame and not frame.endswith("None)")):
                raise UnsupportedSQL(
                    "LAST_VALUE whose frame ends at the current row", node,
                    "write ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING for the partition's last value",
                )
            if frame is not None and not (frame.startswith("rows=(None") or frame.startswith("range=(None")):
                raise UnsupportedSQL(f"{func.sql_name()} over a frame that does not start at the partition", node)
            if order is not None and frame is None:
                frame = "rows=(None, None)"  # the default frame starts at the partition's first row
            if frame:
                kwargs.append(frame)
            return Code(f"{self(func.this).receiver()}.{method}().over({', '.join(kwargs)})")
        if not isinstance(func, (exp.AggFunc, exp.Filter)):
            raise UnsupportedSQL(f"window function {type(func).__name__}", node)
        frame = self.frame(spec, node) if spec is not None else None
        if frame is None and order is not None:
            frame = "range=(None, 0)"  # SQL's default frame once a window is ordered
        if frame:
            kwargs.append(frame)
        return Code(f"{self(func).receiver()}.over({', '.join(kwargs)})")

    def frame(self, spec: exp.WindowSpec, node: exp.Expression) -> str | None:
        kind = (spec.args.get("kind") or "ROWS").upper()

        def bound(value, side) -> str:
            text = value.upper() if isinstance(value, str) else value
            if text == "UNBOUNDED":
                return "None"
            if text == "CURRENT ROW":
                return "0"
            amount = _literal_int(value) if isinstance(value, exp.Expression) else None
            if amount is None:
                raise UnsupportedSQL("window frame bound", node)
            return str(-amount if (side or "").upper() == "PRECEDING" else amount)

        start = bound(spec.args.get("start"), spec.args.get("start_side"))
        end_value = spec.args.get("end")
        end = bound(end_value, spec.args.get("end_side")) if end_value is not None else "0"
        if kind == "ROWS":
            return f"rows=({start}, {end})"
        if kind == "RANGE":
            if start == "None" and end == "None":
                return None
            return f"range=({start}, {end})"
        raise UnsupportedSQL(f"{kind} window frames", node)

    def sort_key(self, ordered: exp.Ordered) -> str:
        """An ORDER BY term: column, ``.desc()``, explicit null placement when not default."""
        value = self(ordered.this)
        desc = bool(ordered.args.get("desc"))
        nulls_first = bool(ordered.args.get("nulls_first"))
        args = "nulls_first=True" if nulls_first else ""
        if desc:
            return f"{value.receiver()}.desc({args})"
        if nulls_first:
            return f"{value.receiver()}.asc({args})"
        return value.value()

    def unsupported_function(self, node: exp.Expression) -> Code:
        name = node.name if isinstance(node, exp.Anonymous) else type(node).__name__
        if name.upper() == "DATE_PART":
            return self.date_part(node)
        raise UnsupportedSQL(f"function {name.upper()}", node, _DIFFERENT_SEMANTICS.get(name.upper(), ""))

    def different_semantics(self, node: exp.Expression) -> Code:
        reason = _DIFFERENT_SEMANTICS.get(type(node).__name__.upper(), "")
        raise UnsupportedSQL(f"function {node.sql_name()}", node, reason)

    def ignore_nulls(self, node: exp.IgnoreNulls) -> Code:
        if type(node.this).__name__.upper() in _DIFFERENT_SEMANTICS:
            return self.different_semantics(node.this)
        raise UnsupportedSQL("IGNORE NULLS", node)

    RULES: dict[type, Callable[["ScalarRenderer", exp.Expression], Code]] = {
        exp.Column: column,
        exp.Literal: literal,
        exp.Boolean: boolean,
        exp.Null: null,
        exp.Paren: paren,
        exp.Alias: alias,
        **dict.fromkeys(_ARITHMETIC, binary),
        exp.Div: div,
        exp.Neg: neg,
        **dict.fromkeys(_COMPARISONS, comparison),
        exp.And: and_,
        exp.Or: or_,
        exp.Not: not_,
        exp.Is: is_,
        exp.Between: between,
        exp.Like: like,
        exp.ILike: like,
        exp.In: in_,
        exp.Exists: exists,
        exp.Subquery: subquery,
        exp.Case: case,
        exp.If: if_,
        exp.Coalesce: coalesce,
        exp.Nullif: nullif,
        exp.Greatest: greatest,
        exp.Least: least,
        exp.Cast: cast,
        exp.TryCast: cast,
        exp.Interval: interval,
        exp.Extract: extract,
        exp.DateAdd: date_add,
        exp.DateSub: date_add,
        exp.TimestampAdd: date_add,
        exp.TimestampSub: date_add,
        exp.CurrentDate: current_date,
        exp.Date: to_date,
        exp.CurrentTimestamp: current_date,
        exp.Substring: substring,
        exp.DPipe: concat,
        exp.Concat: concat,
        exp.Trim: trim,
        **dict.fromkeys(_METHODS, method),
        exp.Round: round_,
        **dict.fromkeys(_SIMPLE_AGGREGATES, aggregate),
        exp.Count: count,
        exp.Filter: filtered_aggregate,
        exp.Grouping: grouping,
        exp.Window: window,
        exp.Anonymous: unsupported_function,
        exp.Initcap: different_semantics,
        exp.SplitPart: different_semantics,
        exp.GroupConcat: different_semantics,
        exp.ArrayAgg: different_semantics,
        exp.AnyValue: different_semantics,
        exp.IgnoreNulls: ignore_nulls,
        exp.DateFromParts: make_date,
        exp.TimeToStr: strftime,
        exp.Median: median,
        **dict.fromkeys(_POPULATION, population),
        exp.CountIf: count_if,
        exp.TimestampTrunc: truncate,
        exp.DateTrunc: truncate,
        exp.DatetimeTrunc: truncate,
        exp.DateDiff: date_diff,
        exp.TimestampDiff: timestamp_diff,
        exp.DatetimeDiff: timestamp_diff,
        exp.DayOfWeek: day_of_week,
        exp.DayOfWeekIso: day_of_week,
        exp.StrPosition: str_position,
        exp.StartsWith: starts_with,
        exp.EndsWith: starts_with,
        exp.Contains: starts_with,
        exp.Left: left_right,
        exp.Right: left_right,
        exp.Replace: replace,
        exp.Pad: pad,
        exp.Repeat: repeat,
        exp.RegexpLike: regexp_like,
        exp.RegexpILike: regexp_like,
        exp.RegexpReplace: regexp_replace,
        exp.RegexpExtract: regexp_extract,
        exp.Log: log,
        exp.Pow: power,
        exp.NullSafeEQ: null_safe_eq,
        exp.NullSafeNEQ: null_safe_eq,
    }
