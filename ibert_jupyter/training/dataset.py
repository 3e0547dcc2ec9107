"""Read the `ibert data build` folder (contract C) and turn examples into token ids + a loss span.

The LAST assistant message of each example is the target: everything before it is the prompt
(Devstral's chat format through the checkpoint's tokenizer) and carries no loss.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from ibert_jupyter.errors import IbertInputError

SPLITS = ("train", "dev", "test")
REQUIRED_COLUMNS = ("id", "messages")


class DatasetError(IbertInputError):
    """The dataset folder is missing or does not follow the `ibert data build` layout."""


@dataclass(frozen=True)
class TokenizedExample:
    """One example: ``ids`` = prompt + target; loss on ids[n_prompt:] only."""

    id: str
    ids: tuple[int, ...]
    n_prompt: int


def split_files(dataset_dir: str | Path, split: str) -> list[Path]:
    data = Path(dataset_dir).expanduser() / "data"
    files = sorted(data.glob(f"{split}.parquet")) + sorted(data.glob(f"{split}-*-of-*.parquet"))
    return files


def load_split(dataset_dir: str | Path, split: str) -> list[dict[str, Any]]:
    """Rows of one split as dicts, read with pyarrow (no `datasets` needed)."""
    root = Path(dataset_dir).expanduser()
    if not (root / "data").is_dir():
        raise DatasetError(
            f"{root} is not a training dataset folder (no data/ inside): build one with `ibert data build --out {root}`"
        )
    files = split_files(root, split)
    if not files:
        raise DatasetError(f"{root}/data has no {split}.parquet (or {split}-00000-of-000NN.parquet shards)")
    import pyarrow.parquet as pq

    rows: list[dict[str, Any]] = []
    for file in files:
        table = pq.read_table(file)
        missing = [c for c in REQUIRED_COLUMNS if c not in table.column_names]
        if missing:
            raise DatasetError(f"{file} lacks column(s) {missing} (contract: id, task, messages, code, ...)")
        rows.extend(table.to_pylist())
    return rows


def _check_messages(example_id: str, messages: Any) -> list[dict[str, str]]:
    if isinstance(messages, str):
        messages = json.loads(messages)
    if not isinstance(messages, list) or not messages:
        raise DatasetError(f"example {example_id!r}: messages must be a non-empty list")
    last = max((i for i, m in enumerate(messages) if m.get("role") == "assistant"), default=None)
    if last is None:
        raise DatasetError(f"example {example_id!r} has no assistant message to learn")
    return [{"role": m["role"], "content": m["content"]} for m in messages[: last + 1]]


class ExampleEncoder:
    """Prompt ids through the chat tokenizer, target ids = the raw text + end of sequence."""

    def __init__(self, chat_tokenizer):
        self.chat = chat_tokenizer
        raw = getattr(getattr(chat_tokenizer, "_tokenizer", None), "instruct_tokenizer", None)
        self._tekken = raw.tokenizer if raw is not None else None
        self._hf = None if self._tekken is not None else chat_tokenizer._tokenizer

    def encode_target(self, text: str) -> list[int]:
        if self._tekken is not None:
            return list(self._tekken.encode(text, bos=False, eos=True))
        ids = self._hf(text, add_special_tokens=False)["input_ids"]
        return list(ids) + [self._hf.eos_token_id]

    def encode(self, example_id: str, messages: Sequence[dict[str, str]]) -> TokenizedExample:
        messages = _check_messages(example_id, messages)
        prompt = self.chat.encode_chat(messages[:-1])
        target = self.encode_target(messages[-1]["content"])
        return TokenizedExample(id=str(example_id), ids=tuple(prompt) + tuple(target), n_prompt=len(prompt))

    def encode_rows(self, rows: Sequence[dict[str, Any]], progress: bool = False) -> list[TokenizedExample]:
        from tqdm.auto import tqdm

        return [self.encode(row["id"], row["messages"])
                for row in tqdm(rows, desc="tokenizing", disable=not progress, leave=False)]
