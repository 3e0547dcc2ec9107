"""Fast query embeddings: the sentence-transformers model exported once to ONNX, run by ONNX Runtime.

Why: for one ~10-token query, sentence-transformers on PyTorch spends ~4 ms of its ~9 ms in
per-op Python and dispatch overhead alone. ONNX Runtime runs the same graph (BERT, mean pooling
and L2 normalisation inside it) in ~3.5 ms in fp32, with vectors equal to the reference ones.
The default ``int8`` graph stores the Linear weights as 8-bit integers with one scale per block
of 32 (ONNX Runtime's MatMulNBits): ~1.5 ms, worst cosine to the reference ~0.9995 on the
benchmark queries. ONNX Runtime's ``quantize_dynamic`` (int8 per tensor or per channel) was about
as fast but moved vectors much further (worst cosine 0.946 / 0.989), so it is not used.

The exported graph, its tokenizer and settings live in one folder under the user's data dir,
keyed by the source model's files, so the bundled model and each fine-tuned copy get their own.
It is built on first use (a few seconds, announced on stderr) or ahead of time by ``prepare``.
At query time only onnxruntime and tokenizers are needed, not torch.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

from ibert_jupyter.errors import Unsupported
from ibert_jupyter.retrieval import paths
from ibert_jupyter.retrieval.encode.models import base_model_path, is_model_dir, load_encoder

FORMAT_VERSION = 1  # bump when the exported graph or its sidecar files change
OPSET = 17
GRAPHS = {"fp32": "model.onnx", "int8": "model.int8.onnx"}
TOKENIZER, SETTINGS = "tokenizer.json", "encoder.json"
INPUTS = ("input_ids", "attention_mask", "token_type_ids")  # the graph takes those its model does
INT8_BLOCK = 32  # weights per scale; 128 was 15% faster but 3x further from the reference


class UnsupportedEncoder(Unsupported):
    """The model is not Transformer -> mean Pooling (-> Normalize), the layout this encoder reproduces."""


def cache_key(model_path: Path) -> str:
    """Digest of the model folder's file names, sizes and modification times (cheap; a re-save changes it)."""
    model_path = model_path.resolve()
    if not is_model_dir(model_path):
        raise FileNotFoundError(f"no sentence-transformers model at {model_path}")
    files = sorted(p for p in model_path.rglob("*") if p.is_file())
    stats = [(str(p.relative_to(model_path)), p.stat().st_size, p.stat().st_mtime_ns) for p in files]
    blob = json.dumps({"format": FORMAT_VERSION, "path": str(model_path), "files": stats})
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def cache_dir(model_path: Path) -> Path:
    """Folder of the exported encoder for ``model_path`` (it may not exist yet)."""
    return paths.models_dir() / "onnx" / f"query-encoder-{cache_key(model_path)}"


def _is_complete(folder: Path) -> bool:
    return all((folder / name).exists() for name in (*GRAPHS.values(), TOKENIZER, SETTINGS))


def quantize(fp32_graph: Path, out: Path) -> None:
    """8-bit block-quantised copy of the graph's MatMul weights; activations are quantised per block at run time."""
    import logging

    import onnx
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    log = logging.getLogger("onnxruntime.quantization.matmul_nbits_quantizer")
    level = log.level
    log.setLevel(logging.WARNING)  # it logs every node it skips at INFO
    try:
        quantizer = MatMulNBitsQuantizer(onnx.load(str(fp32_graph)), bits=8, block_size=INT8_BLOCK, is_symmetric=True,
                                         accuracy_level=4)
        quantizer.process()
        quantizer.model.save_model_to_file(str(out), use_external_data_format=False)
    finally:
        log.setLevel(level)


def export(model_path: Path, out_dir: Path) -> None:
    """Write ``out_dir``: the model as ONNX graphs (token ids -> unit vector, fp32 and int8), tokenizer, settings."""
    import torch
    from sentence_transformers.models import Normalize, Pooling, Transformer

    st = load_encoder(str(model_path))
    modules = list(st)
    if not (len(modules) in (2, 3) and isinstance(modules[0], Transformer) and isinstance(modules[1], Pooling)
            and modules[1].pooling_mode == "mean" and all(isinstance(m, Normalize) for m in modules[2:])):
        layout = " -> ".join(f"{type(m).__name__}" for m in modules)
        raise UnsupportedEncoder(f"{model_path}: expected Transformer -> mean Pooling (-> Normalize), found {layout}")
    tokenizer = getattr(st.tokenizer, "backend_tokenizer", None)
    if tokenizer is None:
        raise UnsupportedEncoder(f"{model_path}: its tokenizer has no `tokenizers` backend to export")

    # trace with a padded batch of two, so the graph keeps the attention-mask path
    sample = st.tokenizer(["a query", "a somewhat longer example query"], padding=True, return_tensors="pt")
    accepted = inspect.signature(modules[0].auto_model.forward).parameters
    names = [n for n in INPUTS if n in sample and n in accepted]  # BERT takes token types; MPNet does not

    class Embedder(torch.nn.Module):
        def __init__(self, encoder):
            super().__init__()
            self.encoder = encoder

        def forward(self, *inputs):
            feeds = dict(zip(names, inputs))
            hidden = self.encoder(**feeds).last_hidden_state
            mask = feeds["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2, dim=1)

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    try:
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notices
            torch.onnx.export(Embedder(modules[0].auto_model).eval(), tuple(sample[n] for n in names),
                              str(tmp / GRAPHS["fp32"]),
                              input_names=names, output_names=["embedding"], opset_version=OPSET, dynamo=False,
                              dynamic_axes={**{n: {0: "batch", 1: "tokens"} for n in names}, "embedding": {0: "batch"}})
        quantize(tmp / GRAPHS["fp32"], tmp / GRAPHS["int8"])
        (tmp / TOKENIZER).write_text(tokenizer.to_str(), encoding="utf-8")
        settings = {"format": FORMAT_VERSION, "source": str(model_path.resolve()), "max_seq_length": st.max_seq_length,
                    "do_lower_case": bool(getattr(modules[0], "do_lower_case", False)),
                    "dimension": int(modules[1].get_config_dict()["embedding_dimension"])}
        (tmp / SETTINGS).write_text(json.dumps(settings, indent=1), encoding="utf-8")
        if out_dir.exists() and not _is_complete(out_dir):
            shutil.rmtree(out_dir)  # left by an interrupted or older export
        try:
            tmp.rename(out_dir)
        except OSError:
            if not _is_complete(out_dir):  # not another process finishing first: a real failure
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def prune(root: Path) -> list[Path]:
    """Remove exported encoders whose source model is gone or has changed since; returns what was removed."""
    removed = []
    for folder in sorted(root.glob("query-encoder-*")) if root.is_dir() else []:
        try:
            source = Path(json.loads((folder / SETTINGS).read_text(encoding="utf-8"))["source"])
            stale = not is_model_dir(source) or folder.name != f"query-encoder-{cache_key(source)}"
        except (OSError, ValueError, KeyError):
            stale = True  # no readable settings: an interrupted export
        if stale:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def prepare(model_path: str | None = None, *, quiet: bool = False) -> Path:
    """The exported encoder's folder for ``model_path`` (default: the bundled model), exporting it if missing."""
    source = Path(model_path) if model_path else base_model_path()
    folder = cache_dir(source)
    if not _is_complete(folder):
        if not quiet:
            print(f"[ibert] converting {source} to ONNX for fast query embedding (once) -> {folder}", file=sys.stderr)
        prune(folder.parent)
        export(source, folder)
    return folder


class OnnxQueryEncoder:
    """An exported encoder in an ONNX Runtime session: one text at a time, so no padding and no waste."""

    def __init__(self, folder: Path, threads: int = 1, precision: str = "int8") -> None:
        try:
            import onnxruntime as ort
        except ImportError as exc:  # pragma: no cover - a declared dependency
            raise RuntimeError("fast query embedding needs onnxruntime: pip install onnxruntime "
                               "(or set IBERT_QUERY_ENCODER=reference)") from exc
        from tokenizers import Tokenizer

        if precision not in GRAPHS:
            raise ValueError(f"precision must be one of {', '.join(GRAPHS)}, got {precision!r}")
        if threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        settings = json.loads((folder / SETTINGS).read_text(encoding="utf-8"))
        if settings.get("format") != FORMAT_VERSION:
            raise ValueError(f"{folder} holds encoder format {settings.get('format')}, expected {FORMAT_VERSION}")
        self.folder, self.threads, self.precision = folder, threads, precision
        self.dimension = settings["dimension"]
        self.lower = settings["do_lower_case"]
        self.tokenizer = Tokenizer.from_file(str(folder / TOKENIZER))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(settings["max_seq_length"])
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # threads that spin waiting for work steal the core the other thread needs on a shared CPU
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(folder / GRAPHS[precision]), options, providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]

    def encode(self, texts: list[str]) -> np.ndarray:
        """L2-normalised float32 vectors, shape (len(texts), dimension)."""
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"texts[{row}] is {type(text).__name__}, expected str")
            text = text.strip()
            ids = np.asarray([self.tokenizer.encode(text.lower() if self.lower else text).ids], dtype=np.int64)
            feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
            out[row] = self.session.run(None, {name: feeds[name] for name in self.inputs})[0][0]
        return out


def load(model_path: str | None = None, threads: int = 1, precision: str = "int8") -> OnnxQueryEncoder:
    """A fast encoder for ``model_path``, exported first when needed (``dense`` keeps one per path)."""
    return OnnxQueryEncoder(prepare(model_path), threads, precision)
