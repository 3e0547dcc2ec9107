"""The dataset card (README.md of the output folder)."""

from __future__ import annotations

from typing import Any


def _table(counts: dict[str, int], header: str) -> str:
    rows = "\n".join(f"| {k} | {v} |" for k, v in counts.items())
    return f"| {header} | examples |\n| --- | --- |\n{rows}\n"


def _sources(names: list[str]) -> str:
    """``tpch-q01.sql, tpch-q02.sql, ...`` → ``TPC-H SQL (22)``; other files by name."""
    import re

    groups: dict[str, int] = {}
    for name in names:
        m = re.fullmatch(r"tpc(h|ds)-q\d+\.(sql|py)", name)
        key = f"TPC-{m.group(1).upper()} {'SQL' if m.group(2) == 'sql' else 'Ibis references'}" if m else name
        groups[key] = groups.get(key, 0) + 1
    return ", ".join(f"{k} ({v})" if v > 1 else k for k, v in groups.items())


def _mistakes(counts: dict[str, int]) -> dict[str, int]:
    single = {k: v for k, v in counts.items() if "+" not in k}
    single["two mistakes in one cell"] = sum(v for k, v in counts.items() if "+" in k)
    return dict(sorted(single.items(), key=lambda kv: -kv[1]))


def card(stats: dict[str, Any]) -> str:
    splits = stats["by_split_task"]
    split_rows = "\n".join(
        f"| {s} | {sum(v.values())} | " + " | ".join(str(v.get(t, 0)) for t in stats["by_task"]) + " |" for s, v in splits.items()
    )
    return f"""# iBERT training data (tool-verified Ibis chats)

Built by `ibert data build` (seed {stats['seed']}, size {stats['size']}) in {stats['wall_s']} s.
{stats['examples']} examples; every example's code passed iBERT's sandboxed verifier against the
tables it names *and* executed in full on DuckDB (row count and result hash recorded in
`result_rows`/`result_hash`). Load with
`datasets.load_dataset("parquet", data_dir="<this folder>/data")` or
`ibert_jupyter.training.data.load_splits("<this folder>")`.

## Tasks
Each example is a chat (`messages`: system, user, assistant); the last assistant message is the
training target, rendered with the same prompt builders the product uses.

- `nl2ibis`: English request + schema snapshot (+ API docs for some) → Ibis code (`%%ibert`).
- `sql2ibis`: SQL (from `ibis.to_sql` of the program) + schema → Ibis code (`%%ibert_from_sql`).
- `repair`: broken cell + real traceback + diagnosis + schemas → fixed cell and one sentence (`%ibert_fix`).
- `api_qa`: API question + retrieved symbols → short answer with verified code (sidebar chat).
- `fim`: code before/after the cursor → the missing span (inline completion).

{_table(stats['by_task'], 'task')}
## Sources
{_table(stats['by_source'], 'source')}
- `generator`: programs from a seeded generator over {len(stats['schemas'])} schemas with data generated in
  DuckDB; English from a deterministic describer (several phrasings), no model-written text.
- `generator+to_sql`: the same programs' SQL as Ibis compiles it.
- `ibis_docstrings`: the installed Ibis's own docstring examples, executed.
- `mutation`: repair pairs (broken cell fails the verifier and raises when run; fix = the verified program).

{_table(_mistakes(stats['by_repair_mistake']), 'repair mistake')}
## Schemas
{_table(stats['by_schema'], 'schema')}
## Splits
Split by (schema, program template) group ({stats['groups']} groups), so a program family and all
renderings of one program stay on one side; near-twin programs (MinHash Jaccard ≥ 0.8 over code
3-grams) were removed before splitting, so none crosses splits.

| split | all | {' | '.join(stats['by_task'])} |
| --- | --- |{' --- |' * len(stats['by_task'])}
{split_rows}

## Gates and rejections
Re-check at the end of the build: {stats['verified_sample']} kept examples drawn at random were verified and
executed again on fresh connections; fraction giving the recorded result: {stats['verified_fraction']}.

Counts are candidate programs, docstring examples or mutants, except `dedupe:near` and
`decontaminate`, which count rendered examples.

{_table(stats['rejected_by_stage'], 'rejected at stage').replace('| examples |', '| candidates |')}
{_table(stats['rejected_by_reason'], 'stage: reason').replace('| examples |', '| candidates |')}
Decontamination: {stats['benchmark_items']} benchmark items from {_sources(stats['benchmark_sources'])};
an example is dropped when it contains ≥ 50 % of any item's word 3-grams. Contaminated examples
kept: {stats['contaminated']}.

Semgrep (iBERT's Ibis rules; `tags` column): {stats['semgrep']}; {stats['semgrep_tags']}.

## Token lengths
Counted in Devstral's chat format with {stats['tokenizer']}:
min {stats['n_tokens']['min']}, mean {stats['n_tokens']['mean']}, max {stats['n_tokens']['max']},
total {stats['n_tokens']['total']}. Histogram: `token_lengths.png`.

## Rebuild
`ibert data build --out DIR [--size tiny|small|default|large|N] [--seed S] [--tokenizer tekken.json] [--json]`
(resumable: finished chunks are kept in `DIR/.work`).

## Limits
The English is template-written, not from users; programs cover one backend (DuckDB); results are
checked to run, not to be what a person meant.
"""
