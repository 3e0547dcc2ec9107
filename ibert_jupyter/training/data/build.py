"""The build: generate → gate → render the five tasks → dedupe → decontaminate → split → write.

Work is cut into chunks (one schema, ``CHUNK`` candidate programs, its own seeded RNG); each
finished chunk is saved under ``OUT/.work`` so an interrupted build resumes where it stopped
and a rebuild with the same seed and size gives the same dataset.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from ibert_jupyter.training.data import dedupe, describer, splitting, tasks
from ibert_jupyter.training.data.gates import Rejections, check
from ibert_jupyter.training.data.programs import Generator, Program, column_stats
from ibert_jupyter.training.data.schemas import Schema, all_schemas, connect

CHUNK = 100
SIZES = {"tiny": 20, "small": 60, "default": 1400, "large": 3500}  # candidate programs per schema
NEAR_THRESHOLD = 0.8
FORMAT_VERSION = 2  # 2: Ibis's random identifiers in recorded SQL are numbered
DOCSTRINGS_VERSION = 3  # 3: memtable names in the recorded SQL numbered, not random; 2: setup holds every assignment before the example (memtables built from variables)


@dataclass(frozen=True)
class BuildConfig:
    out: Path
    seed: int = 0
    size: str | int = "default"
    tokenizer: str | None = None
    eval_dir: Path | None = None

    @property
    def per_schema(self) -> int:
        if isinstance(self.size, int) or str(self.size).isdigit():
            return int(self.size)
        if self.size not in SIZES:
            raise ValueError(f"unknown --size {self.size!r}: use one of {', '.join(SIZES)} or a number of programs per schema")
        return SIZES[self.size]


def _id(*parts: str) -> str:
    return hashlib.sha1("\x1f".join(parts).encode()).hexdigest()[:16]


def _columns(tables) -> dict[str, dict[str, str]]:
    return {v: {c: str(t) for c, t in tab.schema().items()} for v, tab in tables.items()}


def _record(task, source, schema, template, program_id, messages, code, context, verified, **extra) -> dict[str, Any]:
    return {
        "id": _id(task, program_id, messages[-1]["content"], json.dumps(messages[-2]["content"])),
        "task": task, "source": source, "schema": schema, "template": template, "program_id": program_id,
        "messages": messages, "code": code, "context": json.dumps(context, sort_keys=True),
        "sql": verified.sql, "result_rows": verified.result_rows, "result_hash": verified.result_hash,
        "broken_code": extra.get("broken_code", ""), "error_type": extra.get("error_type", ""),
    }


def _visible_tables(schema: Schema, program: Program, rng: random.Random) -> list[str]:
    """The tables the notebook shows: the program's plus, usually, the schema's others."""
    others = [t.variable for t in schema.tables if t.variable not in program.tables]
    extra = others if rng.random() < 0.6 else rng.sample(others, rng.randint(0, len(others)))
    return [t.variable for t in schema.tables if t.variable in program.tables or t.variable in extra]


def program_examples(schema: Schema, program: Program, verified, tables, rng: random.Random, rejections, seed: int) -> list[dict]:
    """The five task renderings of one verified program (repair only when a real mistake fails)."""
    from ibert_jupyter.training.data import repairs

    pid = _id(schema.name, program.code)
    shown = _visible_tables(schema, program, rng)
    snap = tasks.snapshot(_columns({v: tables[v] for v in shown}), {t.variable: t.name for t in schema.tables})
    context = {"kind": "schema", "schema": schema.name, "seed": seed, "tables": list(program.tables)}
    used = {v: tables[v] for v in program.tables}
    out = []
    focus = tasks.used_apis(program.code) or program.focus
    request = describer.describe(program.intent, rng)
    out.append(_record("nl2ibis", "generator", schema.name, program.template, pid,
                       tasks.nl2ibis(request, snap, program.code, focus, rng), program.code, context, verified))
    out.append(_record("sql2ibis", "generator+to_sql", schema.name, program.template, pid,
                       tasks.sql2ibis(verified.sql, snap, program.code, rng), program.code, context, verified))
    middles = set()
    for _ in range(2 if rng.random() < 0.5 else 1):  # FIM is the most frequent request: two spans for half
        split = tasks.fim_split(program.code, rng)
        if split and split[1] not in middles:
            middles.add(split[1])
            out.append(_record("fim", "generator", schema.name, program.template, pid,
                               tasks.fim(*split, snap), program.code, context, verified))
    if rng.random() < 0.5:
        question = describer.describe(program.intent, rng, style="question")
        named = " then ".join(f"`{a.split('.')[-1]}`" for a in focus[:3])
        intro = rng.choice([f"Use {named}:", f"Chain {named} on the table:", f"With {named}:"]) if focus else "Like this:"
        out.append(_record("api_qa", "generator", schema.name, program.template, pid,
                           tasks.api_qa(question, snap, program.code, focus, intro), program.code, context, verified))
    for pair in repairs.pairs(program.code, used, rng, rejections, limit=1):
        out.append(_record("repair", f"mutation:{pair.kind}", schema.name, program.template, pid,
                           tasks.repair(pair, used, used), program.code, context, verified,
                           broken_code=pair.broken, error_type=pair.error_type))
    return out


def run_chunk(schema: Schema, gen: Generator, tables, index: int, cfg: BuildConfig, seen: set[str], n: int = CHUNK) -> tuple[list[dict], dict]:
    """``n`` candidate programs of one chunk, gated and rendered; its own seeded RNG."""
    rng = random.Random(f"{cfg.seed}:{schema.name}:{index}")
    rejections = Rejections()
    examples: list[dict] = []
    for _ in range(n):
        family, program = gen.generate(rng)
        if program is None:
            rejections.add("generate", f"{family}: nothing to generate")
            continue
        key = dedupe.exact_key(program.code)
        if key in seen:
            rejections.add("dedupe:exact", "program generated before")
            continue
        seen.add(key)
        verified = check(program.code, {v: tables[v] for v in program.tables}, rejections)
        if verified is None:
            continue
        examples += program_examples(schema, program, verified, tables, rng, rejections, cfg.seed)
    return examples, rejections.to_dict()


def docstring_examples(cfg: BuildConfig, rejections: Rejections) -> list[dict]:
    from ibert_jupyter.training.data import docstrings

    out = []
    rng = random.Random(f"{cfg.seed}:docstrings")
    for ex in docstrings.examples(rejections):
        verified = check(ex.code, ex.data, rejections)
        if verified is None:
            continue
        snap = tasks.snapshot(ex.setup)
        what = ex.summary.rstrip(".")
        question = rng.choice([
            f"How do I use `{ex.api}`?", f"What does `{ex.api}` do? Show an example.",
            f"Show me an example of {ex.api.split('.')[-1]} in Ibis.",
            f"How can I {what[0].lower() + what[1:]}?" if what else f"How do I use `{ex.api}`?",
        ])
        intro = f"`{ex.api}{ex.signature}`: {ex.summary}"
        context = {"kind": "memtable", "setup": ex.setup_code}
        pid = _id("ibis_docs", ex.code, ex.setup_code)
        template = f"docstring:{ex.api.split('.')[0]}"
        out.append(_record("api_qa", "ibis_docstrings", "ibis_docs", template, pid,
                           tasks.api_qa(question, snap, ex.code, (ex.api,), intro), ex.code, context, verified))
    return out


def generate_all(cfg: BuildConfig, progress: bool = True) -> tuple[list[dict], Rejections, list[str]]:
    """Every candidate example, resuming from saved chunks; also the schemas used."""
    work = cfg.out / ".work"
    work.mkdir(parents=True, exist_ok=True)
    chunks = -(-cfg.per_schema // CHUNK)
    schemas = all_schemas()
    total = Rejections()
    examples: list[dict] = []
    bar = tqdm(total=chunks * len(schemas) + 1, desc="generating", unit="chunk", disable=not progress)
    tag = f"v{FORMAT_VERSION}-s{cfg.seed}-n{cfg.per_schema}"
    doc_path = work / f"docstrings-d{DOCSTRINGS_VERSION}-{tag}.json"
    if doc_path.exists():
        saved = json.loads(doc_path.read_text())
    else:
        r = Rejections()
        saved = {"examples": docstring_examples(cfg, r), "rejections": r.to_dict()}
        doc_path.write_text(json.dumps(saved))
    examples += saved["examples"]
    total.merge(saved["rejections"])
    bar.update(1)
    for schema in schemas:
        paths = [work / f"{schema.name}-{tag}-{i:04d}.json" for i in range(chunks)]
        seen: set[str] = set()
        loaded = {}
        for p in paths:
            if p.exists():
                loaded[p] = json.loads(p.read_text())
                seen.update(dedupe.exact_key(e["code"]) for e in loaded[p]["examples"])
        gen = tables = None
        for i, p in enumerate(paths):
            if p not in loaded:
                if gen is None:
                    con, tables = connect(schema, cfg.seed)
                    gen = Generator(schema, column_stats(con.con, schema))
                n = min(CHUNK, cfg.per_schema - i * CHUNK)
                got, rej = run_chunk(schema, gen, tables, i, cfg, seen, n)
                loaded[p] = {"examples": got, "rejections": rej}
                tmp = p.with_suffix(".tmp")
                tmp.write_text(json.dumps(loaded[p]))
                tmp.replace(p)
            examples += loaded[p]["examples"]
            total.merge(loaded[p]["rejections"])
            bar.update(1)
    bar.close()
    return examples, total, [s.name for s in schemas]


def select(examples: list[dict], cfg: BuildConfig, rejections: Rejections, progress: bool = True) -> tuple[list[dict], dict]:
    """Dedupe (programs, then examples), decontaminate, split. Returns kept examples and info."""
    from ibert_jupyter.training.data.decontam import Decontaminator, benchmark_items

    # 1. near-twin programs: every rendering of a dropped program goes with it
    programs: dict[str, str] = {}
    for e in examples:
        programs.setdefault(e["program_id"], e["code"])
    ids = list(programs)
    twins = dedupe.near_duplicates([programs[i] for i in ids], NEAR_THRESHOLD, seed=cfg.seed)
    dropped = {ids[i] for i in twins}
    kept = []
    for e in examples:
        if e["program_id"] in dropped:
            rejections.add("dedupe:near", f"{e['task']}: near-twin program")
        else:
            kept.append(e)
    # 2. exact duplicates of the whole chat within a task
    seen, unique = set(), []
    for e in kept:
        key = (e["task"], dedupe.exact_key(json.dumps(e["messages"][1:])))
        if key in seen:
            rejections.add("dedupe:exact", f"{e['task']}: same chat")
            continue
        seen.add(key)
        unique.append(e)
    # 3. decontamination
    items = benchmark_items(cfg.eval_dir)
    decon = Decontaminator(items)
    clean, contaminated = [], []
    for e in tqdm(unique, desc="decontaminating", disable=not progress):
        hit = decon.match(decontam_text(e))
        if hit is not None:
            rejections.add("decontaminate", hit.source.split(":")[0])
            contaminated.append((e["id"], hit.source))
        else:
            clean.append(e)
    # 4. split by (schema, template)
    groups = {splitting.group_key(e["schema"], e["template"]) for e in clean}
    split_of = splitting.assign(groups, cfg.seed)
    for e in clean:
        e["split"] = split_of[splitting.group_key(e["schema"], e["template"])]
    info = {"benchmark_items": len(decon.items), "benchmark_sources": decon.sources, "groups": len(groups),
            "recheck": sum(decon.match(decontam_text(e)) is not None for e in clean)}
    return clean, info


def decontam_text(example: dict) -> str:
    """What an example shows the model: the request part of the last user turn, and the target."""
    if example["task"] == "repair":  # the traceback is the library's own file paths, not benchmark text
        return f"{example['broken_code']}\n{example['messages'][-1]['content']}"
    user = example["messages"][-2]["content"]
    request = user.split("Request:", 1)[-1] if "Request:" in user else user.split("Question:", 1)[-1]
    return f"{request}\n{example['messages'][-1]['content']}"


def semgrep_tags(examples: list[dict]) -> tuple[dict[str, list[str]], str | None]:
    """Semgrep rule ids per code text (kept code and broken cells), from one semgrep run."""
    from ibert_jupyter.repair.lint import SemgrepUnavailable, lint_sources

    codes = sorted({e["code"] for e in examples} | {e["broken_code"] for e in examples if e["broken_code"]})
    try:
        findings = lint_sources(codes, timeout_s=900)
    except SemgrepUnavailable as exc:
        return {}, str(exc)
    return {c: sorted({f.rule for f in fs}) for c, fs in zip(codes, findings)}, None


def reverify(kept: list[dict], seed: int, n: int = 200) -> tuple[float, int]:
    """Fraction of a random sample of kept examples that verify again, on fresh connections,
    and execute to the recorded result (row count and hash). Returns (fraction, sample size)."""
    import ibis

    rng = random.Random(f"{seed}:reverify")
    sample = rng.sample(kept, min(n, len(kept)))
    schemas = {s.name: s for s in all_schemas()}
    connections: dict[tuple[str, int], Any] = {}
    ok = 0
    for e in sample:
        context = json.loads(e["context"])
        if context["kind"] == "schema":
            key = (context["schema"], context["seed"])
            if key not in connections:
                connections[key] = connect(schemas[context["schema"]], context["seed"])[1]
            tables = {v: connections[key][v] for v in context["tables"]}
        else:
            namespace: dict[str, Any] = {"ibis": ibis}
            exec(context["setup"], namespace)  # noqa: S102 - the ibis docstring's own memtable lines
            tables = {k: v for k, v in namespace.items() if isinstance(v, ibis.expr.types.Table)}
        again = check(e["code"], tables, Rejections())
        ok += again is not None and (again.result_rows, again.result_hash) == (e["result_rows"], e["result_hash"])
    return (ok / len(sample) if sample else 0.0), len(sample)


def build(cfg: BuildConfig, progress: bool = True) -> dict[str, Any]:
    from ibert_jupyter.training.data import writer
    from ibert_jupyter.training.data.tokens import ChatCounter

    t0 = time.perf_counter()
    counter = ChatCounter(cfg.tokenizer)
    with warnings.catch_warnings():  # mutants that use deprecated spellings warn on every build
        warnings.simplefilter("ignore", FutureWarning)
        examples, rejections, schema_names = generate_all(cfg, progress)
    kept, info = select(examples, cfg, rejections, progress)
    tags, semgrep_note = semgrep_tags(kept)
    info["verified_fraction"], info["verified_sample"] = reverify(kept, cfg.seed)
    for e in tqdm(kept, desc="tokenizing", disable=not progress):
        e["n_tokens"] = counter.count(e["messages"])
        e["tags"] = tags.get(e["broken_code"] or e["code"], [])
    stats = writer.write(cfg, kept, rejections, info, counter.label, semgrep_note, time.perf_counter() - t0)
    return stats
