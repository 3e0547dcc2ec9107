"""The corpus: one chunk per public Ibis symbol (plus example programs), read from the installed source.

Chunks are symbols, not line windows: a method's chunk is its signature, docstring and
doctest examples, so a hit can be shown, linked and expanded through the symbol graph.
Source files are parsed with ``ast`` (nothing is imported), so building the corpus never
runs Ibis code and works for any installed version.
"""

from __future__ import annotations

import ast
import inspect
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ibert_jupyter.retrieval.paths import ibis_source_dir

# Modules whose symbols are the user-facing API (relative to the ibis package dir).
PUBLIC_MODULES: tuple[str, ...] = (
    "expr/api.py",
    "expr/types/*.py",
    "selectors.py",
    "expr/schema.py",
    "expr/datatypes/core.py",
    "expr/sql.py",
    "expr/operations/udf.py",
    "backends/__init__.py",
    "backends/duckdb/__init__.py",
    "backends/sql/__init__.py",
    "common/deferred.py",
    "config.py",
)
# Dunders that carry user-facing behaviour worth finding (t["col"], t.col, calling a udf).
KEPT_DUNDERS = frozenset({"__getitem__", "__getattr__", "__call__"})
# Modules re-exported at the top level: `ibis.expr.api.literal` is used as `ibis.literal`.
TOP_LEVEL_MODULES = frozenset({"ibis.expr.api"})
SYMBOL_KINDS = ("class", "method", "property", "function")


@dataclass(frozen=True)
class Chunk:
    """One retrievable unit: a symbol of the installed Ibis, or an example program."""

    id: str  # qualified name, e.g. ibis.expr.types.relations.Table.group_by
    kind: str  # class | method | property | function | example
    name: str
    public_name: str  # how users spell it: Table.group_by, ibis.literal, ibis.selectors.across
    module: str
    file: str  # relative to the directory that contains the ibis package
    line: int  # 1-based
    end_line: int
    signature: str = ""
    summary: str = ""
    doc: str = ""
    examples: str = ""
    parent: str | None = None
    bases: tuple[str, ...] = field(default_factory=tuple)

    @property
    def name_path(self) -> str:
        """Serena's spelling: Table/group_by (the symbol's path inside its file)."""
        prefix = self.module + "."
        return self.id[len(prefix):].replace(".", "/") if self.id.startswith(prefix) else self.name

    def dense_text(self) -> str:
        """What the embedder sees: how it is called and what it is for (first paragraph)."""
        if self.kind == "example":
            return f"{self.summary}\n{self.doc[:800]}"
        return f"{self.public_name}{self.signature}\n{self.summary}"

    def sparse_text(self) -> str:
        """What BM25 sees: names (twice, they matter most), signature, the whole docstring."""
        if self.kind == "example":
            return f"{self.summary} {self.doc}"
        names = f"{self.public_name} {self.name} {self.name}"
        return f"{names}\n{self.signature}\n{self.doc}"

    def head_text(self) -> str:
        """The short field BM25 also scores apart: names and summary, where a match means most."""
        if self.kind == "example":
            return self.summary
        return f"{self.public_name} {self.name}\n{self.summary}"

    def to_payload(self) -> dict:
        payload = asdict(self)
        payload["bases"] = list(self.bases)
        return payload

    @classmethod
    def from_payload(cls, payload: dict) -> "Chunk":
        known = {f for f in cls.__dataclass_fields__}
        data = {k: v for k, v in payload.items() if k in known}
        data["bases"] = tuple(data.get("bases") or ())
        return cls(**data)


def public_module_files(root: Path | None = None, patterns: tuple[str, ...] = PUBLIC_MODULES) -> list[Path]:
    """The public module files of the installed ibis, in a stable order."""
    root = root or ibis_source_dir()
    files: list[Path] = []
    for pattern in patterns:
        for path in sorted(root.glob(pattern)):
            if path.name.startswith("_") and path.name != "__init__.py":
                continue
            if path not in files:
                files.append(path)
    if not files:
        raise FileNotFoundError(f"no public ibis modules matched {patterns} under {root}")
    return files


def _module_name(path: Path, root: Path) -> str:
    rel = path.relative_to(root.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _split_doc(doc: str) -> tuple[str, str, str]:
    """(summary, docstring without the examples, doctest code)."""
    doc = inspect.cleandoc(doc or "")
    summary = doc.split("\n\n", 1)[0].replace("\n", " ").strip()
    example_lines = [m.group(1) for m in re.finditer(r"^\s*(?:>>>|\.\.\.) ?(.*)$", doc, flags=re.MULTILINE)]
    body = re.split(r"\n(?:Examples|Example)\n-{3,}\n", doc, maxsplit=1)[0]
    return summary, body.strip(), "\n".join(example_lines)


def _signature(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> str:
    if isinstance(node, ast.ClassDef):
        init = next((n for n in node.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"), None)
        return _signature(init) if init is not None else ""
    args = ast.unparse(node.args)
    returns = f" -> {ast.unparse(node.returns)}" if node.returns is not None else ""
    return f"({args}){returns}"


def _is_property(node: ast.AST) -> bool:
    decos = getattr(node, "decorator_list", [])
    return any(ast.unparse(d).split(".")[-1] in {"property", "cached_property", "attribute"} for d in decos)


def _is_overload(node: ast.AST) -> bool:
    """A ``typing.overload`` stub: no docstring, one narrowed signature; the implementation follows."""
    return any(ast.unparse(d).split(".")[-1] == "overload" for d in getattr(node, "decorator_list", []))


def _keep(name: str) -> bool:
    return not name.startswith("_") or name in KEPT_DUNDERS


def _public_name(module: str, qual: list[str], reexported: frozenset[str] = frozenset()) -> str:
    if len(qual) == 1 and (module in TOP_LEVEL_MODULES or qual[0] in reexported):
        return f"ibis.{qual[0]}"
    if module.startswith("ibis.expr.types") or module.startswith("ibis.backends"):
        return ".".join(qual)  # Table.group_by, BaseBackend.list_tables
    return f"{module}.{'.'.join(qual)}"


def top_level_names(root: Path) -> frozenset[str]:
    """Names ``ibis.expr.api`` imports from elsewhere: they are spelled ``ibis.<name>``."""
    tree = ast.parse((root / "expr" / "api.py").read_text(encoding="utf-8"))
    return frozenset(
        alias.asname or alias.name
        for node in tree.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    )


def module_chunks(path: Path, root: Path, reexported: frozenset[str] = frozenset()) -> list[Chunk]:
    """Chunks of one module file: its public classes, their methods, its functions."""
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source, filename=str(path))
    module = _module_name(path, root)
    rel_file = str(path.relative_to(root.parent))
    chunks: list[Chunk] = []
    # private mixins (e.g. _DateComponentMixin) carry public methods: name them after their
    # first public subclass in the module (DateValue.year)
    mixin_alias: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and _keep(node.name):
            for base in node.bases:
                if isinstance(base, ast.Name) and base.id.startswith("_"):
                    mixin_alias.setdefault(base.id, node.name)

    def visit(body: list[ast.stmt], qual: list[str], parent_id: str | None) -> None:
        for node in body:
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            if _is_overload(node):
                continue
            if not _keep(node.name) and not (not qual and node.name in mixin_alias):
                continue
            names = [*qual, node.name]
            shown = [mixin_alias.get(n, n) for n in names]
            symbol_id = f"{module}.{'.'.join(names)}"
            if isinstance(node, ast.ClassDef):
                kind = "class"
            elif parent_id is not None:
                kind = "property" if _is_property(node) else "method"
            else:
                kind = "function"
            summary, doc, examples = _split_doc(ast.get_docstring(node) or "")
            if kind != "class" and not doc and node.name.startswith("_"):
                continue
            chunks.append(
                Chunk(
                    id=symbol_id,
                    kind=kind,
                    name=node.name,
                    public_name=_public_name(module, shown, reexported if parent_id is None else frozenset()),
                    module=module,
                    file=rel_file,
                    line=node.lineno,
                    end_line=node.end_lineno or node.lineno,
                    signature=_signature(node),
                    summary=summary,
                    doc=doc,
                    examples=examples,
                    parent=parent_id,
                    bases=tuple(ast.unparse(b) for b in node.bases) if isinstance(node, ast.ClassDef) else (),
                )
            )
            if isinstance(node, ast.ClassDef):
                visit(node.body, names, symbol_id)

    visit(tree.body, [], None)
    return chunks


def example_chunks() -> list[Chunk]:
    """The TPC-H/TPC-DS reference implementations shipped in the ibis wheel, one chunk each."""
    from ibert_jupyter.data import tpc

    try:
        root = tpc.tpc_root()
    except tpc.TpcUnavailable:
        return []
    chunks = []
    for suite in ("h", "ds"):
        for query in tpc.reference_queries(suite):
            rel = str((root / suite / "test_queries.py").relative_to(ibis_source_dir().parent))
            tables = ", ".join(query.tables)
            chunks.append(
                Chunk(
                    id=f"example:{query.name}",
                    kind="example",
                    name=query.name,
                    public_name=f"TPC-{suite.upper()} query {query.number}",
                    module=f"ibis.backends.tests.tpc.{suite}.test_queries",
                    file=rel,
                    line=1,
                    end_line=1,
                    summary=f"TPC-{suite.upper()} query {query.number} in Ibis over tables {tables}",
                    doc=query.code,
                    examples=query.code,
                )
            )
    return chunks


def build_corpus(
    patterns: tuple[str, ...] = PUBLIC_MODULES, *, examples: bool = True, root: Path | None = None
) -> list[Chunk]:
    """Every chunk of the installed ibis's public modules (and its example programs)."""
    root = root or ibis_source_dir()
    chunks: list[Chunk] = []
    seen: set[str] = set()
    reexported = top_level_names(root)
    for path in public_module_files(root, patterns):
        for chunk in module_chunks(path, root, reexported):
            if chunk.id not in seen:  # conditional redefinitions keep the first
                seen.add(chunk.id)
                chunks.append(chunk)
    if examples:
        chunks.extend(example_chunks())
    return chunks
