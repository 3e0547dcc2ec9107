"""One error family: every exception class in the package is an IbertError *and* a builtin,
and no two share a name (a duplicate makes ``except`` clauses and tracebacks ambiguous)."""

from __future__ import annotations

import importlib
import pkgutil
import sys
import textwrap
from types import ModuleType

import pytest

import ibert_jupyter
from ibert_jupyter.errors import IbertError, IbertInputError, Refused, Unavailable, Unsupported

GROUPS = (IbertError, IbertInputError, Unsupported, Unavailable, Refused)


def exception_classes(package: ModuleType) -> list[type[BaseException]]:
    """Every exception class *defined* in ``package`` or its submodules (imports all of them)."""
    found: dict[str, type[BaseException]] = {}
    modules = [package] + [
        importlib.import_module(info.name)
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + ".")
        if not info.name.endswith(".__main__")  # entry scripts run when imported
    ]
    for module in modules:
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, BaseException) and value.__module__ == module.__name__:
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return list(found.values())


def family_problems(classes: list[type[BaseException]], root: type[BaseException]) -> list[str]:
    """What breaks the family rules; empty when all hold."""
    problems = []
    by_name: dict[str, list[str]] = {}
    for cls in classes:
        where = f"{cls.__module__}.{cls.__qualname__}"
        by_name.setdefault(cls.__name__, []).append(where)
        if cls is root:
            continue
        if not issubclass(cls, root):
            problems.append(f"{where} does not derive from {root.__name__}")
        builtins = [b for b in cls.__mro__ if b.__module__ == "builtins" and b not in (Exception, BaseException, object)]
        if not builtins:
            problems.append(f"{where} derives from no builtin exception besides Exception")
    problems += [f"{name} is defined {len(places)} times: {', '.join(sorted(places))}"
                 for name, places in by_name.items() if len(places) > 1]
    return problems


def test_every_exception_in_the_package_is_one_family_with_unique_names():
    classes = exception_classes(ibert_jupyter)
    names = {cls.__name__ for cls in classes}
    # the walk really reaches deep modules and the adapters, not just the root
    assert {"IbertError", "UnsupportedSQL", "IndexUnavailable", "SandboxError", "BadRequest", "CandidateTimeout"} <= names
    assert len(classes) >= 30
    assert family_problems(classes, IbertError) == []


def test_groups_are_their_builtins():
    assert issubclass(IbertInputError, ValueError) and issubclass(Unsupported, ValueError)
    assert issubclass(Unavailable, RuntimeError) and issubclass(Refused, PermissionError)
    from ibert_jupyter.sql.transpile.errors import UnsupportedSQL
    from ibert_jupyter.verify.sandbox import CandidateTimeout

    assert issubclass(UnsupportedSQL, ValueError) and issubclass(CandidateTimeout, TimeoutError)


@pytest.fixture
def planted(tmp_path, monkeypatch):
    """A throwaway package with two exception classes of one name and one outside the family."""
    root = tmp_path / "planted_pkg"
    (root / "inner").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "inner" / "__init__.py").write_text("")
    (root / "first.py").write_text(textwrap.dedent("""
        from ibert_jupyter.errors import IbertInputError
        class Duplicate(IbertInputError):
            pass
    """))
    (root / "inner" / "second.py").write_text(textwrap.dedent("""
        from ibert_jupyter.errors import Unavailable
        class Duplicate(Unavailable):
            pass
        class Stray(Exception):
            pass
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield importlib.import_module("planted_pkg")
    for name in [m for m in sys.modules if m == "planted_pkg" or m.startswith("planted_pkg.")]:
        del sys.modules[name]


def test_checker_catches_a_planted_duplicate_and_a_stray(planted):
    classes = exception_classes(planted)
    assert sorted(c.__name__ for c in classes) == ["Duplicate", "Duplicate", "Stray"]
    problems = family_problems(classes, IbertError)
    assert any("Duplicate is defined 2 times" in p and "planted_pkg.inner.second.Duplicate" in p for p in problems)
    assert "planted_pkg.inner.second.Stray does not derive from IbertError" in problems
    assert "planted_pkg.inner.second.Stray derives from no builtin exception besides Exception" in problems
    assert len(problems) == 3
