"""Semgrep rules shipped in the package, on positive and negative samples (one semgrep run)."""

from __future__ import annotations

import pytest

from ibert_jupyter.repair.lint import SemgrepUnavailable, lint_sources, rules_path, semgrep_executable

# rule id -> (code that must be flagged, idiomatic Ibis that must not be)
SAMPLES = {
    "ibis-pandas-groupby": ("t.groupby('a').agg(n=t.count())", "t.group_by('a').agg(n=t.count())"),
    "ibis-pandas-str-accessor": ("t.name.str.upper()", "t.name.upper()"),
    "ibis-pandas-dt-accessor": ("t.d.dt.year", "t.d.year()"),
    "ibis-pandas-astype": ("t.a.astype('int64')", "t.a.cast('int64')"),
    "ibis-pandas-sort-values": ("t.sort_values('a')", "t.order_by('a')"),
    "ibis-pandas-ascending-keyword": ("t.order_by('a', ascending=False)", "t.order_by(ibis.desc('a'))"),
    "ibis-pandas-merge": ("t.merge(s, on='k')", "t.join(s, 'k')"),
    "ibis-pandas-indexer": ("t.loc[t.a > 1]", "t.filter(t.a > 1)"),
    "ibis-pandas-apply": ("t.a.apply(lambda v: v + 1)", "t.a + 1"),
    "ibis-pandas-isna": ("t.a.isna()", "t.a.isnull()"),
    "ibis-deprecated-null-handling": ("t.fillna(0)", "t.fill_null(0)"),
    "ibis-relabel-removed": ("t.relabel({'a': 'b'})", "t.rename(b='a')"),
    "ibis-execute-then-pandas-filter": ("df = t.execute()[lambda d: d.a > 1]", "df = t.filter(t.a > 1).execute()"),
    "ibis-execute-in-loop": ("for k in keys:\n    t.filter(t.k == k).execute()\n", "t.filter(t.k.isin(keys)).execute()"),
}


@pytest.fixture(scope="module")
def findings():
    try:
        semgrep_executable()
    except SemgrepUnavailable as exc:
        pytest.skip(f"semgrep unavailable: {exc}")
    sources = [code for pair in SAMPLES.values() for code in pair]
    return lint_sources(sources)


def test_every_rule_has_samples():
    text = (rules_path() / "ibis-idioms.yaml").read_text()
    for rule in SAMPLES:
        assert f"id: {rule}\n" in text


@pytest.mark.parametrize("index_rule", list(enumerate(SAMPLES)), ids=list(SAMPLES))
def test_rule_positive_and_negative(findings, index_rule):
    index, rule = index_rule
    positive, negative = findings[2 * index], findings[2 * index + 1]
    assert rule in {f.rule for f in positive}
    assert not negative, [str(f) for f in negative]


def test_missing_semgrep_is_named(monkeypatch, tmp_path):
    monkeypatch.setenv("IBERT_SEMGREP", str(tmp_path / "nope"))
    with pytest.raises(SemgrepUnavailable, match="IBERT_SEMGREP"):
        lint_sources(["t.groupby('a')"])
