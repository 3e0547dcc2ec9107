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
    "DAYOFYEAR": "day_of_year", "EPOCH": "epoch_seconds",
}
# Aggregates whose Ibis method takes no arguments besides the column (and ``where=``).
_SIMPLE_AGGREGATES = {
    exp.Sum: "sum", exp.Avg: "mean", exp.Min: "min", exp.Max: "max",
    exp.StddevSamp: "std", exp.Stddev: "std", exp.VariancePop: "var", exp.Variance: "var",
    exp.ArgMax: "argmax", exp.ArgMin: "argmin",
}
_METHODS = {
    exp.Upper: "upper", exp.Lower: "lower", exp.Length: "length", exp.Abs: "abs",
    exp.Ceil: "ceil", exp.Floor: "floor", exp.Sqrt: "sqrt", exp.Exp: "exp", exp.Ln: "ln",
    exp.Year: "year", exp.Month: "month", exp.Day: "day", exp.Quarter: "quarter",
    exp.Initcap: "capitalize", exp.Reverse: "reverse", exp.Sign: "sign",
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
        return Code(f"{inner.receiver()}.cast({str(dtype)!r})")

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
        amount = _literal_int(node.expression)
        if keyword is None or amount is None:
            raise UnsupportedSQL(f"{type(node).__name__} with a non-constant amount or unit {unit}", node)
        op = "-" if isinstance(node, exp.DateSub) else "+"
        return Code(f"{self(node.this).wrap(PREC_ADD)} {op} ibis.interval({keyword}={amount})", PREC_ADD)

    def extract(self, node: exp.Extract) -> Code:
        part = node.this.name.upper()
        method = _DATE_PARTS.get(part)
        if method is None:
            raise UnsupportedSQL(f"EXTRACT({part})", node)
        return Code(f"{self(node.expression).receiver()}.{method}()")

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
        first, rest = rendered[0], rendered[1:]
        return Code(f"{first.receiver()}.concat({', '.join(r.text for r in rest)})")

    def trim(self, node: exp.Trim) -> Code:
        if node.expression is not None:
            raise UnsupportedSQL("TRIM of specific characters", node)
        position = (node.args.get("position") or "").upper()
        method = {"LEADING": "lstrip", "TRAILING": "rstrip"}.get(position, "strip")
        return Code(f"{self(node.this).receiver()}.{method}()")

    def method(self, node: exp.Func) -> Code:
        return Code(f"{self(node.this).receiver()}.{_METHODS[type(node)]}()")

    def round_(self, node: exp.Round) -> Code:
        digits = node.args.get("decimals")
        args = self(digits).text if digits is not None else ""
        return Code(f"{self(node.this).receiver()}.round({args})")

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
        if isinstance(func, (exp.Lag, exp.Lead)):
            method = "lag" if isinstance(func, exp.Lag) else "lead"
            args = [self(a).text for a in (func.args.get("offset"), func.args.get("default")) if a is not None]
            return Code(f"{self(func.this).receiver()}.{method}({', '.join(args)}).over({', '.join(kwargs)})")
        if isinstance(func, (exp.FirstValue, exp.LastValue)):
            raise UnsupportedSQL(f"{type(func).__name__} window function", node)
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
        raise UnsupportedSQL(f"function {name.upper()}", node)

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
        exp.CurrentDate: current_date,
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
    }
