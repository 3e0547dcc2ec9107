"""Queries → Ibis relational code: CTEs, FROM/JOIN planning, WHERE, GROUP BY, set operations.

``QueryTranslator.RULES`` maps each query node type (SELECT, UNION, ...) to its rule. Every
SELECT gets a ``Scope`` naming the columns its sources expose; scalar expressions are
rendered by ``ScalarRenderer`` through an ``ExprContext`` bound to that scope, which is how
correlated subqueries find the outer query's relation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

from sqlglot import exp

from ibert_jupyter.sql.transpile.catalog import ibis_type
from ibert_jupyter.sql.transpile.code import Code, Program, column_access, kwarg_ok
from ibert_jupyter.sql.transpile.errors import UnsupportedSQL
from ibert_jupyter.sql.transpile.scalars import ScalarRenderer

_LINE = 88


@dataclass
class Relation:
    """Code of a relation (a variable name or a method chain) and its column names."""

    code: str
    columns: list[str]
    is_var: bool = False


@dataclass
class Scope:
    """Columns visible in one SELECT: (source alias, column) → name in the relation ``var``."""

    names: dict[tuple[str, str], str] = field(default_factory=dict)
    var: str = ""
    # (source alias, column) -> variable of the joined table the column is read through
    # (``orders.o_orderdate`` after a join chain: Ibis finds the column in the join).
    direct: dict[tuple[str, str], str] = field(default_factory=dict)
    parent: "Scope | None" = None
    used_vars: set[str] = field(default_factory=set)

    def in_use(self, var: str) -> bool:
        scope: Scope | None = self
        while scope is not None:
            if var in scope.used_vars:
                return True
            scope = scope.parent
        return False

    def aliases(self) -> set[str]:
        return {alias for alias, _ in self.names} | {alias for alias, _ in self.direct}


def _unparen(node: exp.Expression) -> exp.Expression:
    while isinstance(node, exp.Paren):
        node = node.this
    return node


def _conjuncts(node: exp.Expression | None) -> list[exp.Expression]:
    if node is None:
        return []
    node = _unparen(node)
    if isinstance(node, exp.And):
        return [c for part in node.flatten() for c in _conjuncts(part)]
    return [node]


def _is_aggregate(node: exp.Expression) -> bool:
    """An aggregate call that is not itself the function of a window."""
    if not isinstance(node, exp.AggFunc):
        return False
    parent = node.parent
    if isinstance(parent, exp.Filter):
        parent = parent.parent
    return not isinstance(parent, exp.Window)


def _aggregates(node: exp.Expression) -> list[exp.Expression]:
    """Outermost aggregate calls under ``node``, not descending into subqueries."""
    found: list[exp.Expression] = []

    def visit(n: exp.Expression) -> None:
        if isinstance(n, (exp.Subquery, exp.Select, exp.Exists)) or (
            isinstance(n, exp.In) and n.args.get("query") is not None and n is not node
        ):
            if isinstance(n, exp.In):
                visit(n.this)
            return
        if _is_aggregate(n):
            found.append(n.parent if isinstance(n.parent, exp.Filter) else n)
            return
        for child in n.iter_expressions():
            visit(child)

    visit(node)
    return found


def _has_window(node: exp.Expression) -> bool:
    return any(isinstance(n, exp.Window) for n in node.walk() if not isinstance(n, exp.Subquery))


def _columns_outside_aggregates(node: exp.Expression) -> list[exp.Column]:
    out: list[exp.Column] = []

    def visit(n: exp.Expression) -> None:
        if _is_aggregate(n) or isinstance(n, (exp.Subquery, exp.Select)):
            return
        if isinstance(n, exp.Filter) and _is_aggregate(n.this):  # FILTER (WHERE ...) belongs to it
            return
        if isinstance(n, exp.Column):
            out.append(n)
        for child in n.iter_expressions():
            visit(child)

    visit(node)
    return out


def _chain(head: str, calls: list[str]) -> str:
    """``head.call1.call2`` on one line, or one call per line when long."""
    return head + "".join(calls)


def _args(items: list[str]) -> str:
    return ", ".join(items)


class ExprContext:
    """Resolves columns and subqueries for the scalar renderer inside one query phase."""

    def __init__(
        self,
        translator: "QueryTranslator",
        scope: Scope,
        owner: str,
        *,
        replacements: dict[exp.Expression, Code] | None = None,
        source_vars: dict[str, str] | None = None,
        table_ref: str = "_",
        allow_exists: bool = False,
        grouping: dict[exp.Expression, int] | None = None,
        names: dict[tuple[str, str], str] | None = None,
        outputs: dict[str, exp.Expression] | None = None,
        deferred: bool = False,
    ):
        self.deferred = deferred  # read columns through `_` (never through a joined table)
        self.outputs = outputs or {}
        self.tr = translator
        self.scope = scope
        self.owner = owner
        self.replacements = replacements or {}
        self.source_vars = source_vars
        self._table_ref = table_ref
        self.allow_exists = allow_exists
        self.grouping_values = grouping
        self.names = scope.names if names is None else names
        self.render = ScalarRenderer(self, translator.dialect)

    def __call__(self, node: exp.Expression) -> Code:
        return self.render(node)

    # Context protocol -------------------------------------------------------------------
    def column(self, node: exp.Column) -> Code:
        key = (node.table, node.name)
        if self.source_vars is not None and node.table in self.source_vars:
            return Code(column_access(self.source_vars[node.table], node.name))
        if key in self.scope.direct and not self.deferred:
            return Code(column_access(self.scope.direct[key], node.name))
        if key in self.scope.direct and key not in self.names:
            raise UnsupportedSQL("COUNT(*) in one expression with a column several joined tables name alike", node)
        if key in self.names:
            return Code(column_access(self.owner, self.names[key]))
        if not node.table and node.name in self.outputs and self.outputs[node.name] is not node:
            return self.render(self.outputs[node.name])
        if not node.table:
            matches = [name for (alias, col), name in self.names.items() if col == node.name]
            if len(set(matches)) == 1:
                return Code(column_access(self.owner, matches[0]))
        parent = self.scope.parent
        while parent is not None:
            if key in parent.names:
                return Code(column_access(parent.var, parent.names[key]))
            parent = parent.parent
        raise UnsupportedSQL("column reference that cannot be resolved here", node)

    def replacement(self, node: exp.Expression) -> Code | None:
        return self.replacements.get(node) if self.replacements else None

    def table_ref(self) -> str:
        return self._table_ref

    def subquery_scalar(self, node: exp.Subquery) -> Code:
        return self.tr.scalar_subquery(node.this, self.scope)

    def subquery_column(self, node: exp.Expression) -> Code:
        query = node.this if isinstance(node, exp.Subquery) else node
        return self.tr.column_subquery(query, self.scope)

    def exists(self, node: exp.Exists) -> Code:
        if not self.allow_exists:
            raise UnsupportedSQL("EXISTS outside WHERE", node)
        return self.tr.exists(node.this, self.scope)

    def grouping(self, node: exp.Grouping) -> Code:
        if self.grouping_values is None:
            raise UnsupportedSQL("GROUPING() without ROLLUP/GROUPING SETS", node)
        bits = 0
        for arg in node.expressions:
            bits = bits * 2 + self.grouping_values.get(arg, 0)
        return Code(str(bits), literal=True)


class QueryTranslator:
    """Translates one qualified SQL statement into a ``Program``."""

    def __init__(self, tables: dict[str, list[str]], dialect: str = "duckdb"):
        self.tables = tables
        self.dialect = dialect
        self.program = Program()
        self.ctes: dict[str, Relation] = {}
        self.inputs: dict[str, str] = {}  # variable -> table name
        self.derived_views: set[str] = set()  # `.view()`s of CTEs or subqueries
        for name in tables:
            self.program.reserve(name)

    # -- dispatch -------------------------------------------------------------------------
    def query(self, node: exp.Expression, parent: Scope | None = None) -> Relation:
        node = _unparen(node)
        if isinstance(node, exp.Subquery):
            return self.query(node.this, parent)
        rule = self.RULES.get(type(node))
        if rule is None:
            raise UnsupportedSQL(f"{type(node).__name__} statement", node)
        return rule(self, node, parent)

    def materialize(self, relation: Relation, hint: str) -> Relation:
        if relation.is_var:
            return relation
        var = self.program.assign(hint, relation.code)
        return Relation(var, relation.columns, is_var=True)

    # -- WITH -----------------------------------------------------------------------------
    def with_clause(self, node: exp.Expression, parent: Scope | None) -> None:
        with_ = node.args.get("with_") or node.args.get("with")
        if with_ is None:
            return
        if with_.args.get("recursive"):
            raise UnsupportedSQL("WITH RECURSIVE", with_)
        for cte in with_.expressions:
            relation = self.query(cte.this, None)
            relation = self._apply_column_aliases(relation, cte.args.get("alias"))
            var = self.program.assign(cte.alias, relation.code)
            self.ctes[cte.alias] = Relation(var, relation.columns, is_var=True)

    def _apply_column_aliases(self, relation: Relation, alias: exp.TableAlias | None) -> Relation:
        names = [c.name for c in (alias.columns if alias is not None else [])]
        if not names or names == relation.columns[: len(names)]:
            return relation
        relation = self.materialize(relation, alias.name or "derived")
        mapping = {new: old for new, old in zip(names, relation.columns) if new != old}
        code = f"{relation.code}.rename({mapping!r})"
        return Relation(code, names + relation.columns[len(names):])

    # -- FROM -----------------------------------------------------------------------------
    def source(self, node: exp.Expression, scope: Scope) -> tuple[str, str, list[str]]:
        """(alias, variable, columns) for one FROM item."""
        if isinstance(node, exp.Table):
            if node.args.get("joins") or node.args.get("pivots"):
                raise UnsupportedSQL("PIVOT", node)
            name, alias = node.name, node.alias_or_name
            if node.args.get("db") or node.args.get("catalog"):
                raise UnsupportedSQL("schema-qualified table names", node)
            if name in self.ctes:
                relation = self.ctes[name]
                var, columns = relation.code, relation.columns
            elif name in self.tables:
                var, columns = self._input(name), self.tables[name]
            else:
                raise UnsupportedSQL(f"unknown table {name!r}", node)
            if scope.in_use(var):
                original = var
                var = self.program.assign(alias if alias != name else f"{name}_2", f"{var}.view()")
                if original not in self.inputs:
                    self.derived_views.add(var)
            scope.used_vars.add(var)
            return alias, var, list(columns)
        if isinstance(node, exp.Subquery):
            if node.args.get("lateral") or isinstance(node.this, exp.Lateral):
                raise UnsupportedSQL("LATERAL subqueries", node)
            relation = self.query(node.this, None)
            relation = self._apply_column_aliases(relation, node.args.get("alias"))
            alias = node.alias or "subquery"
            relation = self.materialize(relation, alias)
            scope.used_vars.add(relation.code)
            return alias, relation.code, relation.columns
        raise UnsupportedSQL(f"{type(node).__name__} in FROM", node)

    def _input(self, name: str) -> str:
        var = name if name.isidentifier() and name not in ("ibis", "_") else None
        if var is None:
            raise UnsupportedSQL(f"table name {name!r} is not a Python identifier")
        self.inputs[var] = name
        return var

    def from_clause(self, node: exp.Select, scope: Scope, where: list[exp.Expression]) -> list[exp.Expression]:
        """Build the joined relation of ``node`` into ``scope``; returns the WHERE conjuncts left."""
        from_ = node.args.get("from_") or node.args.get("from")
        if from_ is None:
            raise UnsupportedSQL("SELECT without FROM", node)
        items: list[tuple[exp.Expression, exp.Join | None]] = [(from_.this, None)]
        for join in node.args.get("joins") or []:
            items.append((join.this, join))
        sources = []
        for item, join in items:
            alias, var, columns = self.source(item, scope)
            sources.append((alias, var, columns, join))
        source_vars = {alias: var for alias, var, _, _ in sources}
        for alias, _, columns, _ in sources:
            for col in columns:
                scope.names[(alias, col)] = col

        if len(sources) == 1:
            scope.var = sources[0][1]
            return where

        local = set(source_vars)
        pred_ctx = ExprContext(self, scope, "", source_vars=source_vars)

        def refs(conjunct: exp.Expression) -> set[str] | None:
            if conjunct.find(exp.Subquery, exp.Exists, exp.Select, exp.AggFunc, exp.Window):
                return None
            tables = {c.table for c in conjunct.find_all(exp.Column)}
            return tables if tables <= local else None

        where_refs = [refs(c) for c in where]
        used_where: set[int] = set()
        first_alias, first_var, _, _ = sources[0]
        chain = first_var
        joined = {first_alias}
        pending = sources[1:]
        while pending:
            pick = None
            for idx, (alias, var, columns, join) in enumerate(pending):
                kind = self._join_kind(join)
                if kind == "comma":
                    preds = [i for i, r in enumerate(where_refs)
                             if i not in used_where and r and alias in r and len(r) >= 2
                             and r <= joined | {alias}]
                    if preds:
                        pick = (idx, "inner", [where[i] for i in preds], preds)
                        break
                else:
                    on = join.args.get("on")
                    needed = {c.table for c in on.find_all(exp.Column)} if on is not None else set()
                    if needed <= joined | {alias}:
                        pick = (idx, kind, _conjuncts(on) if on is not None else [], [])
                        break
            if pick is None:
                alias, var, columns, join = pending[0]
                kind = self._join_kind(join)
                if kind not in ("comma", "cross"):
                    raise UnsupportedSQL("join whose ON clause references tables joined later", join)
                pick = (0, "cross", [], [])
            idx, kind, preds, where_idx = pick
            alias, var, columns, join = pending.pop(idx)
            used_where.update(where_idx)
            joined.add(alias)
            if join is not None and join.args.get("using"):
                raise UnsupportedSQL("JOIN ... USING", join)
            if kind in ("cross", "comma") or (kind == "inner" and not preds):
                chain += f".cross_join({var})"
                continue
            rendered = [pred_ctx(p).text for p in preds]
            pred_text = rendered[0] if len(rendered) == 1 else "[" + ", ".join(rendered) + "]"
            how = "" if kind == "inner" else f", how={kind!r}"
            chain += f".join({var}, {pred_text}{how})"

        # Column names after the join: keep them when unique, else select with prefixes.
        counts: dict[str, int] = {}
        for _, _, columns, _ in sources:
            for col in columns:
                counts[col] = counts.get(col, 0) + 1
        remaining = [c for i, c in enumerate(where) if i not in used_where]
        all_columns = set(counts)
        if self._reads_through_join(node, scope) and not any(v in self.derived_views for _, v, _, _ in sources) and all(
            n == 1 or (n == 2 and f"{col}_right" not in all_columns) for col, n in counts.items()
        ):
            # One chain, each column read through its own table (`orders.o_orderdate`); a
            # name two tables share is never a plain string.
            for alias, var, columns, _ in sources:
                for col in columns:
                    scope.direct[(alias, col)] = var
                    if counts[col] > 1:
                        scope.names.pop((alias, col), None)
            scope.var = chain
            return remaining
        if any(n > 1 for n in counts.values()):
            referenced = {(c.table, c.name) for c in node.find_all(exp.Column)}
            items_sel = []
            scope.names = {}
            for alias, var, columns, _ in sources:
                for col in columns:
                    if (alias, col) not in referenced:
                        continue
                    name = col if counts[col] == 1 else f"{alias}_{col}"
                    scope.names[(alias, col)] = name
                    value = column_access(var, col)
                    items_sel.append(f"{name}={value}" if kwarg_ok(name) else f"{value}.name({name!r})")
            if not items_sel:
                alias, var, columns, _ = sources[0]
                col = columns[0]
                scope.names[(alias, col)] = col
                items_sel.append(f"{col}={column_access(var, col)}")
            chain = _chain(chain, [f".select({_args(items_sel)})"])
        scope.var = self.program.assign(f"{first_alias}_joined" if len(sources) == 2 else "joined", chain)
        return [c for i, c in enumerate(where) if i not in used_where]

    @staticmethod
    def _reads_through_join(node: exp.Select, scope: Scope) -> bool:
        """Whether the rest of the SELECT can read columns through the joined tables.

        Ibis resolves ``orders.o_orderdate`` against a join chain and what is built on it,
        but not inside subqueries (a correlated reference needs a relation variable), and
        ROLLUP branches re-read a materialised base.
        """
        if scope.parent is not None:
            return False
        parts = [node.args.get(a) for a in ("where", "having", "group", "order", "qualify")] + list(node.expressions)
        for part in parts:
            if part is not None and part.find(
                exp.Subquery, exp.Exists, exp.Select, exp.Rollup, exp.Cube, exp.GroupingSets, exp.Window
            ):
                return False
        group = node.args.get("group")
        return not (group is not None and (group.args.get("rollup") or group.args.get("cube") or group.args.get("grouping_sets")))

    @staticmethod
    def _join_kind(join: exp.Join | None) -> str:
        if join is None:
            return "comma"
        side = (join.args.get("side") or "").lower()
        kind = (join.args.get("kind") or "").lower()
        if kind in ("semi", "anti"):
            return kind
        if kind == "cross":
            return "cross"
        if side in ("left", "right", "full"):
            return "outer" if side == "full" else side
        if join.args.get("on") is None and not join.args.get("using"):
            return "comma"
        if kind in ("", "inner", "outer"):
            return "inner"
        raise UnsupportedSQL(f"{kind.upper()} JOIN", join)

    # -- SELECT ---------------------------------------------------------------------------
    def select(self, node: exp.Select, parent: Scope | None) -> Relation:
        self.with_clause(node, parent)
        for arg in ("qualify", "windows", "laterals", "connect", "match", "sample", "prewhere"):
            if node.args.get(arg):
                raise UnsupportedSQL(arg.upper(), node.args[arg] if isinstance(node.args[arg], exp.Expression) else node)
        if node.args.get("distinct") is not None and node.args["distinct"].args.get("on"):
            raise UnsupportedSQL("DISTINCT ON", node.args["distinct"])
        scope = Scope(parent=parent)
        where = _conjuncts(node.args["where"].this) if node.args.get("where") else []
        where = self.from_clause(node, scope, where)
        owner = scope.var
        calls: list[str] = []
        if where:
            ctx = ExprContext(self, scope, owner, allow_exists=True)
            calls.append(f".filter({_args([ctx(c).wrap(0) for c in where])})")

        items = list(node.expressions)
        names = [item.alias_or_name for item in items]
        group = node.args.get("group")
        having = node.args.get("having")
        is_agg = bool(group) or having is not None or any(_aggregates(i) for i in items)
        if group is not None and any(
            isinstance(k, (exp.Rollup, exp.Cube, exp.GroupingSets)) for k in group.expressions
        ) or (group is not None and (group.args.get("rollup") or group.args.get("cube") or group.args.get("grouping_sets"))):
            return self.rollup(node, scope, _chain(owner, calls), names)
        if is_agg:
            relation, post = self.aggregate(node, scope, _chain(owner, calls), names)
        else:
            relation, post = self.project(node, scope, owner, calls, names)
        return self.finish(node, relation, post, names)

    def project(self, node, scope: Scope, owner: str, calls: list[str], names: list[str]):
        ctx = ExprContext(self, scope, owner)
        plain = [
            isinstance(_unparen(i.this if isinstance(i, exp.Alias) else i), exp.Column)
            and scope.names.get((_column(i).table, _column(i).name)) == name
            for i, name in zip(node.expressions, names)
        ]
        all_columns = [scope.names[k] for k in scope.names]
        hidden, sort_names = self._sort_terms(node, names, ctx)
        if all(plain) and names == all_columns and not hidden:
            return Relation(_chain(owner, calls), names), sort_names
        rendered = [ctx(_strip_alias(i)) for i in node.expressions]
        pairs = list(zip(names, rendered, plain)) + [(n, code, False) for n, code in hidden]
        calls.append(f".select({_args(_select_args(pairs))})")
        return Relation(_chain(owner, calls), names + [n for n, _ in hidden]), sort_names

    def _sort_terms(self, node: exp.Select, names: list[str], ctx: ExprContext | None):
        """ORDER BY terms as (output name, Ordered); unmatched terms become hidden columns."""
        order = node.args.get("order")
        hidden: list[tuple[str, Code]] = []
        terms: list[tuple[str, exp.Ordered]] = []
        if order is None:
            return hidden, terms
        items = [_strip_alias(i) for i in node.expressions]
        for n, ordered in enumerate(order.expressions):
            key = _unparen(ordered.this)
            name = None
            if isinstance(key, exp.Column) and not key.table and key.name in names:
                name = key.name
            elif isinstance(key, exp.Literal) and not key.is_string:
                name = names[int(key.this) - 1]
            else:
                for item, item_name in zip(items, names):
                    if item == key:
                        name = item_name
                        break
            if name is None:
                if ctx is None:
                    raise UnsupportedSQL("ORDER BY expression that is not in the select list", ordered)
                name = self.program.fresh(f"sort_key_{n + 1}")
                hidden.append((name, ctx(key)))
            terms.append((name, ordered))
        return hidden, terms

    def aggregate(self, node: exp.Select, scope: Scope, head: str, names: list[str],
                  grouping: dict | None = None, nulls: dict | None = None):
        group = node.args.get("group")
        keys = list(group.expressions) if group is not None else []
        items = [_strip_alias(i) for i in node.expressions]
        pre = ExprContext(self, scope, scope.var, table_ref="_", grouping=grouping, replacements=nulls)
        # COUNT(*) is `_.count()`; an expression that also reads columns must then read them
        # through `_` too (Ibis cannot mix a deferred `_` with a concrete column).
        deferred = ExprContext(self, scope, "_", table_ref="_", grouping=grouping, replacements=nulls, deferred=True)
        key_names: list[str] = []
        key_args: list[tuple[str, Code, bool]] = []
        taken = set(names)
        for i, key in enumerate(keys):
            name = next((n for item, n in zip(items, names) if item == key), None)
            if name is None:
                name = key.name if isinstance(key, exp.Column) and key.name not in taken else self.program.fresh(f"key_{i + 1}")
            taken.add(name)
            key_names.append(name)
            is_plain = isinstance(key, exp.Column) and scope.names.get((key.table, key.name)) == name
            key_args.append((name, pre(key), is_plain))

        replacements: dict[exp.Expression, Code] = dict(nulls or {})
        metrics: list[tuple[str, Code]] = []
        agg_var_placeholder = "\0agg\0"
        for key, name in zip(keys, key_names):
            replacements[key] = Code(column_access(agg_var_placeholder, name))
        post_items: list[int] = []
        for idx, (item, name) in enumerate(zip(items, names)):
            if item in replacements:
                continue
            if _aggregates(item) and not _has_window(item) and not any(
                c not in replacements for c in _columns_outside_aggregates(item)
            ) and not _columns_outside_aggregates(item):
                metrics.append((name, (deferred if _mixes_count_star(item) else pre)(item)))
                replacements[item] = Code(column_access(agg_var_placeholder, name))
            else:
                post_items.append(idx)
        extra = [items[i] for i in post_items]
        if node.args.get("having"):
            extra.append(node.args["having"].this)
        order = node.args.get("order")
        order_exprs = []
        if order is not None:
            for o in order.expressions:
                key = _unparen(o.this)
                if isinstance(key, exp.Column) and not key.table and key.name in names:
                    continue
                order_exprs.append(key)
        extra.extend(order_exprs)
        for expr in extra:
            for agg in _aggregates(expr):
                if agg not in replacements:
                    name = self.program.fresh("agg")
                    taken.add(name)
                    metrics.append((name, (deferred if _mixes_count_star(agg) else pre)(agg)))
                    replacements[agg] = Code(column_access(agg_var_placeholder, name))

        calls = []
        if key_args:
            calls.append(f".group_by({_args(_select_args(key_args))})")
        metric_args = _select_args([(n, c, False) for n, c in metrics])
        if not all(kwarg_ok(n) for n, _ in metrics):  # agg takes one positional: a list
            metric_args = ["[" + ", ".join(f"{c.receiver()}.name({n!r})" for n, c in metrics) + "]"]
        calls.append(f".agg({_args(metric_args)})")
        agg_columns = key_names + [n for n, _ in metrics]
        code = _chain(head, calls)

        needs_post = bool(post_items) or node.args.get("having") is not None or order_exprs or agg_columns != names
        if not needs_post:
            return Relation(code, agg_columns), self._sort_terms(node, names, None)[1]
        post_exprs = [items[i] for i in post_items] + order_exprs + (
            [node.args["having"].this] if node.args.get("having") else []
        )
        chained = scope.parent is None and not any(
            e.find(exp.Subquery, exp.Exists, exp.Select, exp.Window) for e in post_exprs
        )
        if chained:  # After the aggregation `_` names its columns: the chain goes on.
            reserved = set(self.program.names)
            relation, sort_terms, texts = self._post_aggregate(node, code, "_", replacements, grouping,
                                                               scope, names, items, agg_columns, chained=True)
            # `_` only works where an Ibis method receives it; `ibis.*(…)` calls need a table.
            if not any(re.search(r"ibis\.(?!null\()", t) for t in texts):
                return relation, sort_terms
            self.program.names = reserved
        var = self.program.assign("agg" if "agg" not in self.program.names else "grouped", code)
        relation, sort_terms, _ = self._post_aggregate(node, code, var, replacements, grouping, scope,
                                                       names, items, agg_columns, chained=False)
        return relation, sort_terms

    def _post_aggregate(self, node, code, var, replacements, grouping, scope, names, items,
                        agg_columns, chained):
        """HAVING, computed select items and hidden sort keys over the aggregated relation."""
        agg_var_placeholder = "\0agg\0"
        fixed = {k: Code(v.text.replace(agg_var_placeholder, var)) for k, v in replacements.items()}
        post_scope = Scope(names={}, var=var, parent=scope.parent, used_vars=set(scope.used_vars))
        post = ExprContext(self, post_scope, var, replacements=fixed, grouping=grouping,
                           outputs=dict(zip(names, items)))
        calls = []
        if node.args.get("having"):
            calls.append(f".filter({post(node.args['having'].this).wrap(0)})")
        hidden, sort_terms = self._sort_terms(node, names, post)
        pairs = []
        for idx, (item, name) in enumerate(zip(items, names)):
            code_item = post(item)
            plain = code_item.text == column_access(var, name)
            pairs.append((name, code_item, plain))
        pairs += [(n, c, False) for n, c in hidden]
        out_names = names + [n for n, _ in hidden]
        if out_names != agg_columns or any(not p for _, _, p in pairs):
            calls.append(f".select({_args(_select_args(pairs))})")
        texts = [c.text for _, c, _ in pairs] + calls[:1]
        return Relation(_chain(code if chained else var, calls), out_names), sort_terms, texts

    def finish(self, node: exp.Expression, relation: Relation, sort_terms, names: list[str]) -> Relation:
        calls = []
        if isinstance(node, exp.Select) and node.args.get("distinct") is not None:
            calls.append(".distinct()")
        if sort_terms:
            keys = []
            for name, ordered in sort_terms:
                desc = bool(ordered.args.get("desc"))
                nulls_first = bool(ordered.args.get("nulls_first"))
                arg = ", nulls_first=True" if nulls_first else ""
                if desc:
                    keys.append(f"ibis.desc({name!r}{arg})")
                elif nulls_first:
                    keys.append(f"ibis.asc({name!r}{arg})")
                else:
                    keys.append(repr(name))
            calls.append(f".order_by({_args(keys)})")
        limit = node.args.get("limit")
        offset = node.args.get("offset")
        if limit is not None or offset is not None:
            n = _int_clause(limit)
            m = _int_clause(offset)
            if limit is not None and n is None or offset is not None and m is None:
                raise UnsupportedSQL("non-constant LIMIT/OFFSET", limit or offset)
            calls.append(f".limit({n}{f', offset={m}' if m else ''})")
        if len(relation.columns) > len(names):
            drop = relation.columns[len(names):]
            calls.append(f".drop({', '.join(repr(d) for d in drop)})")
        if not calls:
            return relation
        return Relation(_chain(relation.code, calls), names)

    # -- ROLLUP / GROUPING SETS -------------------------------------------------------------
    def rollup(self, node: exp.Select, scope: Scope, head: str, names: list[str]) -> Relation:
        group = node.args["group"]
        plain_keys: list[exp.Expression] = []
        sets: list[list[exp.Expression]] | None = None
        for k in group.expressions:
            if isinstance(k, exp.Rollup):
                cols = list(k.expressions)
                rollup_sets = [cols[:i] for i in range(len(cols), -1, -1)]
                sets = _product(sets, rollup_sets)
            elif isinstance(k, exp.Cube):
                raise UnsupportedSQL("GROUP BY CUBE", k)
            elif isinstance(k, exp.GroupingSets):
                gsets = [
                    list(s.expressions) if isinstance(s, exp.Tuple) else [_unparen(s)]
                    for s in k.expressions
                ]
                sets = _product(sets, gsets)
            else:
                plain_keys.append(k)
        if sets is None:
            raise UnsupportedSQL("GROUP BY ROLLUP form", group)
        all_keys = plain_keys + [k for s in sets for k in s if k not in plain_keys]
        all_keys = list(dict.fromkeys(all_keys))
        # SQL computes window functions over the whole grouped result; per-branch windows are
        # only the same when each window partitions by a GROUPING() level that tells branches
        # apart (every rolled-up key inside GROUPING(), and one level per branch).
        levels = {tuple(k not in (plain_keys + s) for k in all_keys) for s in sets}
        rolled = [k for k in all_keys if k not in plain_keys]
        for window in node.find_all(exp.Window):
            if window.find_ancestor(exp.Select) is not node:
                continue  # inside a subquery: not over this ROLLUP's output
            grouped = [
                {arg for g in p.find_all(exp.Grouping) for arg in g.expressions}
                for p in window.args.get("partition_by") or []
            ]
            separates = any(all(k in g for k in rolled) for g in grouped)
            if not separates or len(levels) != len(sets) or any(isinstance(k, exp.GroupingSets) for k in group.expressions):
                raise UnsupportedSQL(
                    "window function over ROLLUP/GROUPING SETS output", window,
                    "partition the window by the GROUPING() level, or compute it in an outer query",
                )
        base = self.materialize(Relation(head, [], is_var=head.isidentifier()), "base")
        items = [_strip_alias(i) for i in node.expressions]
        sort_terms, extra = [], []
        for n, ordered in enumerate(node.args["order"].expressions if node.args.get("order") else []):
            key = _unparen(ordered.this)
            if isinstance(key, exp.Column) and not key.table and key.name in names:
                sort_terms.append((key.name, ordered))
            elif isinstance(key, exp.Literal) and not key.is_string:
                sort_terms.append((names[int(key.this) - 1], ordered))
            elif key in items:
                sort_terms.append((names[items.index(key)], ordered))
            else:  # computed per branch (it may use GROUPING()), sorted on, then dropped
                name = self.program.fresh(f"sort_key_{n + 1}")
                extra.append(exp.alias_(key.copy(), name))
                sort_terms.append((name, ordered))
        all_names = names + [e.alias for e in extra]
        branches = []
        for keyset in sets:
            keys = plain_keys + keyset
            grouping = {k: (0 if k in keys else 1) for k in all_keys}
            branch = node.copy()
            branch.set("order", None)
            branch.set("limit", None)
            branch.set("offset", None)
            branch.set("group", exp.Group(expressions=[k.copy() for k in keys]) if keys else None)
            branch.set("expressions", [e.copy() for e in node.expressions] + [e.copy() for e in extra])
            # Rolled-up keys read as NULLs of the key's type in this branch.
            nulls = {}
            for k in all_keys:
                if k not in keys:
                    if not isinstance(k, exp.Column) or (k.table, k.name) not in scope.names:
                        raise UnsupportedSQL("ROLLUP over an expression key", k)
                    typed = column_access(base.code, scope.names[(k.table, k.name)])
                    nulls[k] = Code(f"ibis.null({_type_text(k) or typed + '.type()'})")
            branch_scope = Scope(names=dict(scope.names), var=base.code, parent=scope.parent)
            relation, post = self.aggregate(branch, branch_scope, base.code, all_names, grouping, nulls)
            branches.append(self.finish(branch, relation, post, all_names).code)
        union = f"ibis.union({', '.join(branches)})"
        var = self.program.assign("rolled_up", union)
        return self.finish(node, Relation(var, all_names, is_var=True), sort_terms, names)

    # -- set operations -----------------------------------------------------------------------
    def set_operation(self, node: exp.Expression, parent: Scope | None) -> Relation:
        self.with_clause(node, parent)
        method = {exp.Union: "union", exp.Intersect: "intersect", exp.Except: "difference"}[type(node)]
        distinct = bool(node.args.get("distinct"))
        operands = [node.this, node.expression]
        # Flatten left-nested chains of the same operation (a UNION ALL b UNION ALL c).
        while (
            type(_unparen(operands[0])) is type(node)
            and bool(_unparen(operands[0]).args.get("distinct")) == distinct
            and method != "difference"
            and not _has_modifiers(_unparen(operands[0]))
        ):
            inner = _unparen(operands[0])
            operands = [inner.this, inner.expression] + operands[1:]
        relations = [self.query(op, None) for op in operands]
        names = relations[0].columns
        nulls = [_null_positions(op) for op in operands]
        donors: dict[int, int] = {}
        for pos in set().union(*nulls):
            donor = next((i for i, n in enumerate(nulls) if pos not in n), None)
            if donor is None:
                raise UnsupportedSQL("set operation column that is NULL in every branch", node)
            donors[pos] = donor
        for i in set(donors.values()):
            relations[i] = self.materialize(relations[i], "part")
        parts = []
        for i, rel in enumerate(relations):
            if len(rel.columns) != len(names):
                raise UnsupportedSQL("set operation over queries with different column counts", node)
            if rel.columns != names:
                rel = self.materialize(rel, "part")
                mapping = {new: old for new, old in zip(names, rel.columns) if new != old}
                rel = Relation(f"{rel.code}.rename({mapping!r})", names)
            casts = [
                f"{names[pos]!r}: {column_access(relations[donors[pos]].code, relations[donors[pos]].columns[pos])}.type()"
                for pos in sorted(nulls[i])
            ]
            if casts:  # a bare NULL takes the column's type from another branch, as in SQL
                rel = Relation(f"{rel.code}.cast({{{', '.join(casts)}}})", names)
            parts.append(rel.code if i == 0 or rel.is_var or "\n" not in rel.code else self.materialize(rel, "part").code)
        head = parts[0]
        if "\n" in head or (not relations[0].is_var and "." in head and len(parts) > 1):
            head = self.materialize(Relation(head, names), "part").code
        args = ", ".join(parts[1:])
        code = f"{head}.{method}({args}{', distinct=True' if distinct and method == 'union' else ''}{', distinct=False' if not distinct and method != 'union' else ''})"
        sort_terms = []
        order = node.args.get("order")
        if order is not None:
            for o in order.expressions:
                key = _unparen(o.this)
                if isinstance(key, exp.Column) and key.name in names:
                    sort_terms.append((key.name, o))
                elif isinstance(key, exp.Literal) and not key.is_string:
                    sort_terms.append((names[int(key.this) - 1], o))
                else:
                    raise UnsupportedSQL("ORDER BY expression on a set operation", o)
        return self.finish(node, Relation(code, names), sort_terms, names)

    # -- subqueries inside expressions ------------------------------------------------------------
    def scalar_subquery(self, query: exp.Expression, scope: Scope) -> Code:
        query = _unparen(query)
        if isinstance(query, exp.Select) and self._simple_aggregate(query):
            inner = Scope(parent=scope)
            where = _conjuncts(query.args["where"].this) if query.args.get("where") else []
            where = self.from_clause(query, inner, where)
            owner = inner.var
            if where:
                ctx = ExprContext(self, inner, owner, allow_exists=True)
                owner = self.program.assign(f"{owner}_filtered", f"{owner}.filter({_args([ctx(c).wrap(0) for c in where])})")
            item = _strip_alias(query.expressions[0])
            ctx = ExprContext(self, inner, owner, table_ref=owner)
            return ctx(item)
        relation = self.query(query, scope)
        if len(relation.columns) != 1:
            raise UnsupportedSQL("scalar subquery returning several columns", query)
        relation = self.materialize(relation, "subquery")
        return Code(f"{relation.code}.as_scalar()")

    @staticmethod
    def _simple_aggregate(query: exp.Select) -> bool:
        if len(query.expressions) != 1 or any(
            query.args.get(a) for a in ("group", "having", "order", "limit", "offset", "distinct", "with_")
        ):
            return False
        item = _strip_alias(query.expressions[0])
        return bool(_aggregates(item)) and not _columns_outside_aggregates(item) and not _has_window(item)

    def column_subquery(self, query: exp.Expression, scope: Scope) -> Code:
        relation = self.query(query, scope)
        if len(relation.columns) != 1:
            raise UnsupportedSQL("IN subquery returning several columns", query)
        relation = self.materialize(relation, "subquery")
        return Code(column_access(relation.code, relation.columns[0]))

    def exists(self, query: exp.Expression, scope: Scope) -> Code:
        query = _unparen(query)
        if not isinstance(query, exp.Select) or any(
            query.args.get(a) for a in ("group", "having", "limit", "offset", "with_")
        ) or any(_aggregates(i) for i in query.expressions):
            raise UnsupportedSQL("EXISTS over a grouped, limited or compound subquery", query)
        inner = Scope(parent=scope)
        where = _conjuncts(query.args["where"].this) if query.args.get("where") else []
        where = self.from_clause(query, inner, where)
        local_aliases = inner.aliases()
        local, correlated = [], []
        for c in where:
            outer_refs = [col for col in c.find_all(exp.Column) if col.table not in local_aliases]
            (correlated if outer_refs else local).append(c)
        owner = inner.var
        if local:
            ctx = ExprContext(self, inner, owner, allow_exists=True)
            owner = self.program.assign(f"{owner}_filtered", f"{owner}.filter({_args([ctx(c).wrap(0) for c in local])})")
        if not correlated:
            return Code(f"{owner}.count() > 0", 5)
        ctx = ExprContext(self, inner, owner)
        conds = [ctx(c) for c in correlated]
        body = conds[0].text if len(conds) == 1 else " & ".join(c.wrap(9) for c in conds)
        return Code(f"({body}).any()")

    RULES: dict[type, Callable] = {
        exp.Select: select,
        exp.Union: set_operation,
        exp.Intersect: set_operation,
        exp.Except: set_operation,
    }


def _type_text(node: exp.Expression) -> str | None:
    """The Ibis type of ``node`` as a quoted string, from sqlglot's annotation (None if unknown)."""
    if node.type is None or node.type.this in (exp.DataType.Type.UNKNOWN, exp.DataType.Type.NULL):
        return None
    try:
        return repr(str(ibis_type(node.type)))
    except Exception:  # noqa: BLE001 - an unknown type keeps the runtime lookup
        return None


def _mixes_count_star(node: exp.Expression) -> bool:
    """COUNT(*) (or COUNT_IF) together with column reads in one expression."""
    counts = [
        n for n in node.find_all(exp.Count, exp.CountIf)
        if isinstance(n, exp.CountIf) or n.this is None or isinstance(n.this, exp.Star)
    ]
    return bool(counts) and (len(counts) > 1 or counts[0] is not _unparen(node) or bool(node.find(exp.Column)))


def _null_positions(node: exp.Expression) -> set[int]:
    """Output positions where a set-operation branch selects a bare NULL."""
    node = _unparen(node)
    if isinstance(node, exp.Subquery):
        return _null_positions(node.this)
    if isinstance(node, (exp.Union, exp.Intersect, exp.Except)):
        return _null_positions(node.this) & _null_positions(node.expression)
    return {
        i for i, item in enumerate(getattr(node, "selects", []))
        if isinstance(_unparen(_strip_alias(item)), exp.Null)
    }


def _column(item: exp.Expression) -> exp.Column:
    return _unparen(_strip_alias(item))


def _strip_alias(item: exp.Expression) -> exp.Expression:
    return item.this if isinstance(item, exp.Alias) else item


def _ancestors(node: exp.Expression, stop: exp.Expression):
    parent = node.parent
    while parent is not None and parent is not stop:
        yield parent
        parent = parent.parent


def _product(sets, more):
    if sets is None:
        return [list(s) for s in more]
    return [a + [k for k in b if k not in a] for a in sets for b in more]


def _has_modifiers(node: exp.Expression) -> bool:
    return any(node.args.get(a) for a in ("order", "limit", "offset"))


def _int_clause(clause: exp.Expression | None) -> int | None:
    if clause is None:
        return None
    value = clause.expression if clause.expression is not None else clause.this
    if isinstance(value, exp.Literal) and not value.is_string:
        return int(value.this)
    return None


def _select_args(pairs: list[tuple[str, Code, bool]]) -> list[str]:
    """select/agg arguments: plain columns as strings first, then keyword arguments."""
    out: list[str] = []
    seen_keyword = False
    for name, code, plain in pairs:
        if plain and not seen_keyword:
            out.append(repr(name))
        elif kwarg_ok(name):
            seen_keyword = True
            out.append(f"{name}={code.value()}")
        else:
            out.append(f"{code.receiver()}.name({name!r})")
    if seen_keyword:
        # Python needs positional arguments before keywords: name the late positionals.
        head = [a for a in out if "=" not in a.split("(")[0]]
        tail = [a for a in out if "=" in a.split("(")[0]]
        if out != head + tail:
            fixed = []
            for (name, code, plain), arg in zip(pairs, out):
                if "=" in arg.split("(")[0]:
                    fixed.append(f"{code.receiver()}.name({name!r})")
                else:
                    fixed.append(arg if not plain else f"{code.value()}")
            return fixed
    return out
