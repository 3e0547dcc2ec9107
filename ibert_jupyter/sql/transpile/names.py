"""Identifier semantics per dialect, and the names the generated code shows.

sqlglot resolves names after folding them the way the dialect does (DuckDB and BigQuery
columns ignore case, Postgres folds unquoted names to lower case, Snowflake to upper case;
quoted names keep their case except in DuckDB). Tables keep their real names, so:

* before qualification, a quoted name that is exactly a table's column is rewritten to the
  folded key of that column (quoted names match exactly), and a quoted name that only matches
  a column in another case is refused where the dialect compares quoted names exactly;
* unquoted names fold and then match a column case-insensitively (the schema is folded the
  same way), which is how the catalog's engine, DuckDB, resolves them;
* after qualification every identifier is given back a spelling a person recognises: the
  table's real column name, or an alias exactly as the query wrote it;
* unaliased select expressions get the name the SQL engine gives them (``count_star()``,
  ``sum(x)``, ``(a - 1)``) instead of sqlglot's ``_col_0``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Mapping

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect, NormalizationStrategy
from sqlglot.optimizer.scope import traverse_scope
from sqlglot.schema import normalize_name

from ibert_jupyter.sql.transpile.errors import UnsupportedSQL


def fold(name: str, dialect: str, quoted: bool = False, is_table: bool = False) -> str:
    """``name`` as the dialect compares it (the key sqlglot's qualifier uses)."""
    ident = exp.to_identifier(name, quoted=quoted)
    if ident is None:
        return name
    ident.meta["is_table"] = is_table
    return Dialect.get_or_raise(dialect).normalize_identifier(ident).name


def _case_insensitive_quoted(dialect: str) -> bool:
    """Whether a quoted column name still matches in any case (DuckDB; BigQuery's columns)."""
    if dialect == "bigquery":
        return True
    return Dialect.get_or_raise(dialect).normalization_strategy is NormalizationStrategy.CASE_INSENSITIVE


@dataclass
class Names:
    """Folded key -> display spelling for one query over one catalog."""

    dialect: str
    tables: Mapping[str, list[str]]  # real table name -> real column names
    columns: dict[str, dict[str, str]] = field(default_factory=dict)  # table key -> col key -> real
    table_keys: dict[str, str] = field(default_factory=dict)  # table key -> real table name
    spellings: dict[str, str] = field(default_factory=dict)  # alias key -> spelling as written
    clashes: dict[str, list[str]] = field(default_factory=dict)  # table -> columns equal but for case
    _reals_by_key: dict[str, frozenset[str]] = field(default_factory=dict)  # column key -> real names

    def __post_init__(self) -> None:
        catalog = _catalog_keys(tuple((t, tuple(c)) for t, c in self.tables.items()), self.dialect)
        self.columns, self.table_keys, self.clashes, self._reals_by_key = (dict(part) for part in catalog)

    # -- before qualification ---------------------------------------------------------------
    def prepare(self, statement: exp.Expression) -> exp.Expression:
        statement = statement.copy()
        real_names = {real for reals in self._reals_by_key.values() for real in reals}
        lower_names: dict[str, set[str]] = {}
        for c in real_names:
            lower_names.setdefault(c.lower(), set()).add(c)
        alias_texts = set()
        for node in statement.find_all(exp.Alias, exp.TableAlias, exp.CTE):
            ident = node.args.get("alias")
            if isinstance(ident, exp.TableAlias):
                idents = [ident.this, *ident.columns]
            elif isinstance(node, exp.TableAlias):
                idents = [node.this, *node.columns]
            else:
                idents = [ident]
            for i in idents:
                if isinstance(i, exp.Identifier):
                    alias_texts.add(i.name)
                    self._remember(i)
        ctes = {fold(c.alias, self.dialect, False) for c in statement.find_all(exp.CTE)}
        for table in statement.find_all(exp.Table):
            real = self._table(table, ctes)
            if real is None:
                continue
            # The schema's key for the table, left alone by sqlglot's own folding.
            key = exp.to_identifier(normalize_name(real, self.dialect, is_table=True).name, quoted=True)
            key.meta["case_sensitive"] = True
            table.set("this", key)
            if real in self.clashes:
                raise UnsupportedSQL(
                    f"table {real!r} has columns whose names differ only in case "
                    f"({', '.join(sorted(set(self.clashes[real])))})", table,
                )
        for column in list(statement.find_all(exp.Column)):
            ident = column.this
            if not isinstance(ident, exp.Identifier) or not ident.quoted:
                continue
            if ident.name in real_names and ident.name not in alias_texts:
                key = normalize_name(ident.name, self.dialect).name
                column.set("this", exp.to_identifier(key, quoted=True))
            elif (
                not _case_insensitive_quoted(self.dialect)
                and ident.name not in alias_texts
                and lower_names.get(ident.name.lower())
            ):
                match = sorted(lower_names[ident.name.lower()])[0]
                raise UnsupportedSQL(
                    f'quoted name "{ident.name}" that matches column {match!r} only in another case', column,
                    f"{self.dialect} compares quoted names exactly: write \"{match}\" or leave the name unquoted",
                )
        for select in statement.find_all(exp.Select):
            items = []
            changed = False
            for item in select.expressions:
                if isinstance(item, (exp.Alias, exp.Column, exp.Star)) or item.is_star:
                    items.append(item)
                    continue
                name = engine_name(item, self.dialect)
                ident = exp.to_identifier(name, quoted=True)
                self._remember(ident)
                items.append(exp.alias_(item, ident))
                changed = True
            if changed:
                select.set("expressions", items)
        return statement

    def _table(self, table: exp.Table, ctes: set[str]) -> str | None:
        """The catalog table a FROM item names: exactly when quoted, else folded or in any case."""
        ident = table.this
        if not isinstance(ident, exp.Identifier) or table.args.get("db"):
            return None
        if fold(ident.name, self.dialect, False) in ctes:
            return None
        if ident.quoted:
            return ident.name if ident.name in self.tables else None
        folded = fold(ident.name, self.dialect, False, True)
        if folded in self.tables:
            return folded
        matches = [t for t in self.tables if t.lower() == ident.name.lower()]
        return matches[0] if len(matches) == 1 else None

    def _remember(self, ident: exp.Identifier) -> None:
        key = fold(ident.name, self.dialect, ident.quoted)
        self.spellings.setdefault(key, ident.name)

    # -- after qualification ----------------------------------------------------------------
    def display(self, key: str) -> str:
        if key in self.spellings:
            return self.spellings[key]
        reals = self._reals_by_key.get(key, ())
        return next(iter(reals)) if len(reals) == 1 else key

    def restore(self, qualified: exp.Expression) -> exp.Expression:
        """Give every identifier of the qualified tree its real or written spelling."""
        resolved: dict[int, str] = {}
        cte_names = {cte.alias for cte in qualified.find_all(exp.CTE)}
        for scope in traverse_scope(qualified):
            for column in scope.columns:
                source = _source(scope, column.table)
                if isinstance(source, exp.Table) and source.name not in cte_names:
                    real = self.columns.get(source.name, {}).get(column.name)
                    if real is not None:
                        resolved[id(column.this)] = real
        spelled = self._injective()
        for ident in list(qualified.find_all(exp.Identifier)):
            parent = ident.parent
            if id(ident) in resolved:
                new = resolved[id(ident)]
            elif isinstance(parent, exp.Table) and parent.this is ident and ident.name not in cte_names:
                new = self.table_keys.get(ident.name, ident.name)
            else:
                new = spelled.get(ident.name, ident.name)
            if new != ident.name:
                ident.set("this", new)
        for select in qualified.find_all(exp.Select):
            _unique_outputs(select)
        return qualified

    def _injective(self) -> dict[str, str]:
        """Display spellings, keeping a key as-is where two keys would look the same."""
        out: dict[str, str] = {}
        used: dict[str, str] = {}
        keys = list(self.spellings) + [k for cols in self.columns.values() for k in cols]
        for key in keys:
            if key in out:
                continue
            spelling = self.display(key)
            if used.get(spelling, key) != key:
                spelling = key
            out[key] = spelling
            used[spelling] = key
        return out


def _unique_outputs(select: exp.Select) -> None:
    """SQL allows two output columns with one name, an Ibis table does not: the later ones
    get ``_1``, ``_2`` (the names DuckDB gives them when it stores such a result)."""
    names = [item.alias_or_name for item in select.expressions]
    if len(set(names)) == len(names):
        return
    taken, counts, items = set(names), {}, []
    for item, name in zip(select.expressions, names):
        if name in counts:
            new = name
            while new in taken:
                new = f"{name}_{counts[name]}"
                counts[name] += 1
            taken.add(new)
            body = item.this if isinstance(item, exp.Alias) else item
            item = exp.alias_(body.copy(), exp.to_identifier(new, quoted=True))
        else:
            counts[name] = 1
        items.append(item)
    select.set("expressions", items)


@functools.lru_cache(maxsize=32)
def _catalog_keys(tables: tuple[tuple[str, tuple[str, ...]], ...], dialect: str):
    """Per catalog and dialect, computed once: (table key -> column key -> real name,
    table key -> real table, table -> columns equal but for case, column key -> real names)."""
    columns: dict[str, dict[str, str]] = {}
    table_keys: dict[str, str] = {}
    clashes: dict[str, list[str]] = {}
    reals_by_key: dict[str, set[str]] = {}
    for table, cols in tables:
        tkey = normalize_name(table, dialect, is_table=True).name
        table_keys.setdefault(tkey, table)
        keyed: dict[str, str] = {}
        for col in cols:
            key = normalize_name(col, dialect).name
            if key in keyed:
                clashes.setdefault(table, []).extend([keyed[key], col])
            keyed[key] = col
            reals_by_key.setdefault(key, set()).add(col)
        columns[tkey] = keyed
    return (
        tuple((k, dict(v)) for k, v in columns.items()), tuple(table_keys.items()),
        tuple((k, list(v)) for k, v in clashes.items()), tuple((k, frozenset(v)) for k, v in reals_by_key.items()),
    )


def _source(scope, table: str):
    while scope is not None:
        if table in scope.sources:
            return scope.sources[table]
        scope = scope.parent
    return None


# -- engine-style names of unaliased expressions ----------------------------------------------
def engine_name(node: exp.Expression, dialect: str) -> str:
    """The column name the dialect's engine gives an unaliased select expression."""
    if dialect == "postgres":
        return _postgres_name(node)
    if dialect == "snowflake":
        return node.sql("snowflake").upper()
    return _duckdb_name(node)


def _postgres_name(node: exp.Expression) -> str:
    node = node.unnest()
    if isinstance(node, exp.Column):
        return node.name
    if isinstance(node, exp.Cast):
        return _postgres_name(node.this) if not isinstance(node.this, exp.Literal) else node.to.sql("postgres").lower()
    if isinstance(node, exp.Func):
        return (node.sql_name() if not isinstance(node, exp.Anonymous) else node.name).lower()
    if isinstance(node, exp.Case):
        return "case"
    return "?column?"


_DUCK_BINARY = {
    exp.Add: "+", exp.Sub: "-", exp.Mul: "*", exp.Div: "/", exp.Mod: "%", exp.IntDiv: "//",
    exp.EQ: "=", exp.NEQ: "!=", exp.GT: ">", exp.GTE: ">=", exp.LT: "<", exp.LTE: "<=",
    exp.And: "AND", exp.Or: "OR", exp.DPipe: "||",
}


def _duckdb_name(node: exp.Expression) -> str:
    """DuckDB's ``ParsedExpression::ToString`` for the common shapes."""
    if isinstance(node, exp.Paren):
        return _duckdb_name(node.this)
    if isinstance(node, exp.Column):
        return node.name
    if isinstance(node, exp.Literal):
        return node.this if not node.is_string else f"'{node.this}'"
    if isinstance(node, exp.Null):
        return "NULL"
    if isinstance(node, exp.Neg):
        return f"-({_duckdb_name(node.this)})"
    op = _DUCK_BINARY.get(type(node))
    if op is not None:
        return f"({_duckdb_name(node.this)} {op} {_duckdb_name(node.expression)})"
    if isinstance(node, exp.Count) and (node.this is None or isinstance(node.this, exp.Star)):
        return "count_star()"
    if isinstance(node, exp.Distinct):
        return "DISTINCT " + ", ".join(_duckdb_name(e) for e in node.expressions)
    if isinstance(node, exp.Filter):
        return f"{_duckdb_name(node.this)} FILTER (WHERE {_duckdb_name(node.expression.this)})"
    if isinstance(node, exp.Func) and not isinstance(node, (exp.Case, exp.Cast, exp.Extract)):
        name = node.name if isinstance(node, exp.Anonymous) else _DUCK_FUNC_NAMES.get(type(node), node.sql_name())
        if isinstance(node, exp.Anonymous):
            args = list(node.expressions)
        else:
            args = [node.this] if node.this is not None else []
            args += list(node.expressions) if node.args.get("expressions") else []
            for key in ("expression", "decimals", "start", "length"):
                if isinstance(node.args.get(key), exp.Expression):
                    args.append(node.args[key])
        return f"{name.lower()}({', '.join(_duckdb_name(a) for a in args)})"
    return node.sql("duckdb")


_DUCK_FUNC_NAMES = {exp.Avg: "avg", exp.Substring: "substring", exp.Length: "length", exp.Count: "count"}
