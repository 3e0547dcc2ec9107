"""Contrastive fine-tuning of the dense embedder on pairs mined from the installed Ibis.

Pairs (anchor → positive) come from the corpus only:
* signature ↔ docstring: ``Table.group_by(self, *by, ...)`` ↔ its docstring body;
* question-like docstring lines ↔ symbol: a description sentence ↔ ``name(signature)``;
* example ↔ symbol: a doctest line that calls the method ↔ ``name(signature)``;
* paraphrase ↔ symbol: DuckDB's description of the SQL function it compiles to and pandas',
  DuckDB's and Arrow's description of the same-named method (``sql_functions.py``, ``peer_docs.py``) ↔
  ``name(signature)``: other authors' words for the operation, as users' questions are.
  They are few (about 310 against 2,200), so each is seen ``PARAPHRASE_REPEATS`` times;
* alias ↔ symbol: each phrase of the glossary (``aliases.py``: what SQL, pandas or dplyr users
  call the operation) ↔ ``name(signature)``, once.
Anchors that resemble a question of either benchmark set are dropped
(``bench_retrieval.benchmark_questions``), so the evaluation queries are never training data. Loss: sentence-transformers' MultipleNegativesRankingLoss (in-batch
negatives), a short CPU run.
"""

from __future__ import annotations

import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ibert_jupyter.retrieval.corpus.chunks import SYMBOL_KINDS, Chunk
from ibert_jupyter.retrieval.corpus.docstrings import sentences
from ibert_jupyter.retrieval.encode.sparse import similar


@dataclass(frozen=True)
class Pair:
    anchor: str
    positive: str
    source: str  # signature_doc | doc_line | example | paraphrase | alias


PARAPHRASE_REPEATS = 3


def paraphrases(chunks: list[Chunk]) -> dict[str, list[str]]:
    """Chunk id -> other authors' descriptions of its operation (SQL function, peer methods)."""
    from ibert_jupyter.retrieval.corpus.peer_docs import peer_descriptions
    from ibert_jupyter.retrieval.corpus.sql_functions import symbol_functions
    from ibert_jupyter.retrieval.paths import ibis_source_dir

    out = {cid: list(texts) for cid, texts in peer_descriptions(chunks).items()}
    for cid, (_, texts) in symbol_functions(chunks, ibis_source_dir()).items():
        out.setdefault(cid, []).extend(t for t in texts if t not in out[cid])
    return out


def _target(c: Chunk) -> str:
    return f"{c.public_name}{c.signature}"[:300]


def mine_pairs(chunks: list[Chunk], exclude_queries: list[str] = (), *, seed: int = 0,
               paraphrase: bool = True) -> list[Pair]:
    """Training pairs from docstrings, signatures, doctest examples and (``paraphrase``) other packages' docs
    and the glossary.

    None resembles an excluded query.
    """
    pairs: list[Pair] = []
    if paraphrase:
        from ibert_jupyter.retrieval.corpus import aliases

        by_id = {c.id: c for c in chunks}
        for cid, texts in paraphrases(chunks).items():
            pairs += [Pair(t[:200], _target(by_id[cid]), "paraphrase") for t in texts] * PARAPHRASE_REPEATS
        for cid, phrases in aliases.symbol_aliases(list(by_id), aliases.load()).items():
            pairs += [Pair(phrase, _target(by_id[cid]), "alias") for phrase in phrases]
    for c in chunks:
        if c.kind not in SYMBOL_KINDS or not c.summary:
            continue
        target = _target(c)
        pairs.append(Pair(target, c.doc[:300], "signature_doc"))
        for sentence in sentences(c.doc)[:3]:
            pairs.append(Pair(sentence, target, "doc_line"))
        calls = [line for line in c.examples.splitlines() if f".{c.name}(" in line or f"{c.name}(" in line]
        for line in calls[:2]:
            pairs.append(Pair(line.strip()[:200], target, "example"))
    kept = [p for p in pairs if not any(similar(p.anchor, q) for q in exclude_queries)]
    random.Random(seed).shuffle(kept)
    return kept


def _batches(pairs: list[Pair], batch_size: int, steps: int, seed: int):
    """Batches without two pairs of the same positive (they would be false in-batch negatives)."""
    rng = random.Random(seed)
    order = list(pairs)
    i = 0
    for _ in range(steps):
        batch, seen = [], set()
        while len(batch) < batch_size:
            if i >= len(order):
                rng.shuffle(order)
                i = 0
            p = order[i]
            i += 1
            if p.positive not in seen and p.anchor not in seen:
                seen.update((p.positive, p.anchor))
                batch.append(p)
        yield batch


def train(
    pairs: list[Pair],
    output_dir: Path,
    *,
    base_model: str | None = None,
    steps: int = 40,
    batch_size: int = 16,
    lr: float = 5e-5,
    max_seq_length: int = 64,
    seed: int = 0,
    progress: bool = True,
) -> dict:
    """Fine-tune with MultipleNegativesRankingLoss for ``steps`` batches; saves a sentence-transformers folder."""
    import torch
    from sentence_transformers import SentenceTransformer, losses
    from tqdm import tqdm

    from ibert_jupyter.retrieval.encode.dense import torch_threads
    from ibert_jupyter.retrieval.encode.models import base_model_path

    if len(pairs) < batch_size:
        raise ValueError(f"need at least {batch_size} pairs to train, got {len(pairs)}")
    torch.manual_seed(seed)
    model = SentenceTransformer(str(base_model or base_model_path()), device="cpu")
    model.max_seq_length = max_seq_length
    loss_fn = losses.MultipleNegativesRankingLoss(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    warmup = max(1, steps // 10)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / warmup))
    model.train()
    threads = torch_threads()
    threads.__enter__()
    t0 = time.perf_counter()
    losses_seen = []
    bar = tqdm(total=steps, desc="fine-tune", file=sys.stderr, disable=not progress)
    for batch in _batches(pairs, batch_size, steps, seed):
        anchors = model.preprocess([p.anchor for p in batch]) if hasattr(model, "preprocess") else model.tokenize([p.anchor for p in batch])
        positives = model.preprocess([p.positive for p in batch]) if hasattr(model, "preprocess") else model.tokenize([p.positive for p in batch])
        loss = loss_fn([anchors, positives], None)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
        losses_seen.append(float(loss.detach()))
        bar.update(1)
        bar.set_postfix(loss=f"{losses_seen[-1]:.3f}")
    bar.close()
    threads.__exit__(None, None, None)
    model.eval()
    output_dir.mkdir(parents=True, exist_ok=True)
    model.save(str(output_dir))
    first = sum(losses_seen[:10]) / min(10, len(losses_seen))
    last = sum(losses_seen[-10:]) / min(10, len(losses_seen))
    return {"steps": steps, "batch_size": batch_size, "pairs": len(pairs), "seconds": round(time.perf_counter() - t0, 1),
            "loss_first10": round(first, 4), "loss_last10": round(last, 4), "output_dir": str(output_dir)}
