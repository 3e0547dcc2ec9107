"""SQL-to-SQL rewrites that run before qualification, one function per clause.

Each turns a convenience clause into the standard SQL it abbreviates, so the relational rules
only ever see plain SELECTs: ``GROUP BY ALL`` lists the non-aggregate select items,
``ORDER BY ALL`` lists every output column, and ``QUALIFY`` becomes a filter over a subquery.
"""

from __future__ import annotations

from sqlglot import exp
from sqlglot.transforms import eliminate_qualify

from ibert_jupyter.sql.transpile.errors import UnsupportedSQL


def _plain(item: exp.Expression) -> exp.Expression:
    return item.this if isinstance(item, exp.Alias) else item


def group_by_all(select: exp.Select) -> None:
    """``GROUP BY ALL``: group by every select item that holds no aggregate (DuckDB's rule)."""
    group = select.args.get("group")
    if group is None or not group.args.get("all"):
        return
    if any(item.is_star for item in select.expressions):
        raise UnsupportedSQL("GROUP BY ALL with SELECT *", group)
    keys = [
        _plain(item).copy() for item in select.expressions
        if not _plain(item).find(exp.AggFunc) and not _plain(item).find(exp.Window)
    ]
    select.set("group", exp.Group(expressions=keys) if keys else None)


def order_by_all(select: exp.Expression) -> None:
    """``ORDER BY ALL``: every output column, left to right, in the direction given."""
    order = select.args.get("order")
    if order is None or len(order.expressions) != 1:
        return
    ordered = order.expressions[0]
    if not (isinstance(ordered.this, exp.Var) and ordered.this.name.upper() == "ALL"):
        return
    count = len(select.selects) if hasattr(select, "selects") else 0
    if not count or any(s.is_star for s in select.selects):
        raise UnsupportedSQL("ORDER BY ALL with SELECT *", order)
    keys = []
    for position in range(1, count + 1):
        key = ordered.copy()
        key.set("this", exp.Literal.number(position))
        keys.append(key)
    order.set("expressions", keys)


def qualify_clause(select: exp.Select) -> exp.Expression:
    """``... QUALIFY cond ORDER BY o LIMIT n`` → ``SELECT names FROM (...) WHERE cond ORDER BY o LIMIT n``."""
    if select.args.get("qualify") is None:
        return select
    modifiers = {a: select.args.get(a) for a in ("order", "limit", "offset")}
    inner = select.copy()
    for a in modifiers:
        inner.set(a, None)
    taken = {i.name for i in inner.find_all(exp.Identifier)}
    outer = eliminate_qualify(inner)
    # sqlglot calls the subquery `_t` and an unnamed window `_w`; give them names that read.
    renames = {"_t": "windowed", "_w": "window_value"}
    for ident in outer.find_all(exp.Identifier):
        if ident.name in renames and ident.name not in taken and renames[ident.name] not in taken:
            ident.set("this", renames[ident.name])
    names = {s.alias_or_name for s in outer.selects}
    order = modifiers["order"]
    if order is not None:
        for ordered in order.expressions:
            key = ordered.this
            ok = (isinstance(key, exp.Column) and not key.table and key.name in names) or (
                isinstance(key, exp.Literal) and not key.is_string
            )
            if not ok:
                raise UnsupportedSQL(
                    "ORDER BY expression with QUALIFY", ordered,
                    "order by an output column (name or position)",
                )
    for a, value in modifiers.items():
        outer.set(a, value)
    return outer


def rewrite(statement: exp.Expression) -> exp.Expression:
    """Apply every rewrite, innermost queries first."""
    for select in reversed(list(statement.find_all(exp.Select))):
        group_by_all(select)
        order_by_all(select)
        if select.args.get("qualify") is not None:
            replacement = qualify_clause(select)
            if select is statement:
                statement = replacement
            else:
                select.replace(replacement)
    for node in statement.find_all(exp.Union, exp.Intersect, exp.Except):
        order_by_all(node)
    return statement
