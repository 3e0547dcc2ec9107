"""N candidates per request on the fused Devstral forward: one prefill, one graph replay per token.

Where the time goes in batch-1 decode, and what this module does about it:
- weights: ``FusedMistral`` streams 4 matrices per layer instead of 7;
- launches: the whole step (forward + sampling + feeding the next token back) is compiled
  with ``torch.compile`` and captured in one CUDA graph, replayed once per token;
- host round trips: the next step is queued *before* the host reads the current tokens,
  so stop-sequence checks and streaming run while the GPU computes (one speculative step
  at the end is discarded);
- N candidates: the prompt is prefilled once and its keys/values copied to all N rows;
- small kernels: on a GPU, attention (rope, cache write, softmax over the filled cache) is
  one Triton kernel, and so is the down projection (``decode_attention``, ``decode_gemv``).
On CPU (tests) the same loop runs the step eagerly, with the matmul attention.
"""

from __future__ import annotations

import os
import time
from collections import OrderedDict
from typing import Sequence

import torch

from ibert_jupyter.model.decoding import DecodeResult, RowTracker, StepCallback, cache_bucket, check_request, pick
from ibert_jupyter.model.fused_mistral import FusedMistral, KVCache
from ibert_jupyter.model.kernels.decode_attention import TritonAttention, triton_available
from ibert_jupyter.model.kernels.decode_gemv import DEFAULT_CONFIGS, GemvConfig

PREFILL_CHUNK = 512  # bounds the attention scores' memory for long prompts
MAX_STEPS_KEPT = 3  # (rows, cache length, greedy) variants kept with their caches and graphs


class DecodeStep:
    """Static buffers + KV cache for one (rows, cache length, greedy) shape, and its replayable step."""

    def __init__(self, fused: FusedMistral, rows: int, length: int, greedy: bool, compiled, pool=None):
        self.fused, self.rows, self.length, self.greedy = fused, rows, length, greedy
        device = fused.device
        self.cache: KVCache = fused.new_cache(rows, length)
        self.cos, self.sin = fused.rope_tables(length)
        self.tokens = torch.zeros(rows, dtype=torch.long, device=device)
        self.position = torch.zeros(1, dtype=torch.long, device=device)
        self.temperature = torch.ones(1, dtype=torch.float32, device=device)
        self.top_p = torch.ones(1, dtype=torch.float32, device=device)
        self._compiled = compiled
        self._graph = None
        if device.type == "cuda":
            self._capture(pool)

    def _body(self) -> None:
        uniform = None if self.greedy else torch.rand(self.rows, device=self.tokens.device)
        nxt = self._compiled(self.tokens, self.position, self.temperature, self.top_p, uniform,
                             self.cache, self.cos, self.sin, self.greedy)
        self.tokens.copy_(nxt)
        self.position.add_(1)

    def _capture(self, pool) -> None:
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):  # compile + autotune outside the capture
            for _ in range(3):
                self._body()
        torch.cuda.current_stream().wait_stream(side)
        self._graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self._graph, pool=pool):
            self._body()

    def run(self) -> None:
        """Advance every row by one token (reads/writes ``tokens`` and ``position`` in place)."""
        if self._graph is not None:
            self._graph.replay()
        else:
            self._body()


def _step_function(fused: FusedMistral):
    def step(tokens, position, temperature, top_p, uniform, cache, cos, sin, greedy: bool):
        logits = fused.forward(tokens[:, None], position, cache, cos, sin)
        return pick(logits, temperature, top_p, uniform, greedy=greedy)

    return step


class FusedDecoder:
    """The fast path for Mistral-architecture Devstral; ``decode`` matches ``decoding.decode``."""

    def __init__(self, model, *, compile: bool | None = None, mode: str | None = None,
                 coordinate_descent_tuning: bool = True, dependent_launch: bool = True,
                 decode_attention: str | None = None, triton_attention: TritonAttention | None = None,
                 gemv: dict[str, GemvConfig] | None = None):
        on_cuda = next(model.parameters()).device.type == "cuda"
        # on a GPU: Triton kernels for attention and for the qkv and down projections (H200,
        # full depth: 80.2 -> 85.2 tok/s for attention + down on one machine, +0.9% for qkv)
        default = "triton" if on_cuda and triton_available() else "matmul"
        decode_attention = decode_attention or os.environ.get("IBERT_DECODE_ATTENTION", default)
        if gemv is None and on_cuda and decode_attention == "triton":
            gemv = DEFAULT_CONFIGS
        self.fused = FusedMistral(model, decode_attention=decode_attention, triton=triton_attention, gemv=gemv)
        self.on_cuda = self.fused.device.type == "cuda"
        step = _step_function(self.fused)
        if compile if compile is not None else self.on_cuda:
            import torch._inductor.config as inductor_config

            inductor_config.coordinate_descent_tuning = coordinate_descent_tuning
            if hasattr(inductor_config.triton, "enable_pdl"):
                # Hopper programmatic dependent launch: a kernel's launch overlaps the previous
                # one's tail (H200, bench decode: 84.3 vs 83.1 tok/s without)
                inductor_config.triton.enable_pdl = dependent_launch
            step = torch.compile(step, fullgraph=True, mode=mode)
        self._compiled = step
        self._steps: OrderedDict[tuple[int, int, bool], DecodeStep] = OrderedDict()
        self._pool = torch.cuda.graph_pool_handle() if self.on_cuda else None

    def step_for(self, rows: int, length: int, greedy: bool) -> DecodeStep:
        key = (rows, cache_bucket(length), greedy)
        step = self._steps.pop(key, None)
        if step is None:
            while len(self._steps) >= MAX_STEPS_KEPT:
                self._steps.popitem(last=False)
            step = DecodeStep(self.fused, key[0], key[1], greedy, self._compiled, self._pool)
        self._steps[key] = step  # most recently used last
        return step

    def prefill(self, step: DecodeStep, prompt_ids: Sequence[int]) -> torch.Tensor:
        """Logits after the prompt, [1, vocab]; fills row 0 of the cache, then copies it to all rows."""
        ids = torch.tensor([list(prompt_ids)], dtype=torch.long, device=self.fused.device)
        row0 = step.cache.row0()
        logits = None
        for start in range(0, ids.shape[1], PREFILL_CHUNK):
            end = min(ids.shape[1], start + PREFILL_CHUNK)
            positions = torch.arange(start, end, device=ids.device)
            logits = self.fused.forward(ids[:, start:end], positions, row0, step.cos, step.sin)
        step.cache.broadcast_row0(ids.shape[1])
        return logits

    @torch.inference_mode()
    def decode(
        self,
        prompt_ids: Sequence[int],
        *,
        n: int = 1,
        max_new_tokens: int = 256,
        temperature: float = 0.7,
        top_p: float = 0.95,
        eos_ids: frozenset[int] = frozenset(),
        on_step: StepCallback | None = None,
    ) -> DecodeResult:
        check_request(n, prompt_ids, max_new_tokens)
        sync = torch.cuda.synchronize if self.on_cuda else (lambda: None)
        greedy = temperature <= 0
        prompt_len = len(prompt_ids)
        step = self.step_for(n, prompt_len + max_new_tokens + 1, greedy)
        step.temperature.fill_(max(temperature, 1e-5))
        step.top_p.fill_(top_p)

        t0 = time.perf_counter()
        logits = self.prefill(step, prompt_ids).expand(n, -1)
        uniform = None if greedy else torch.rand(n, device=logits.device)
        step.tokens.copy_(pick(logits, step.temperature, step.top_p, uniform, greedy=greedy))
        step.position.fill_(prompt_len)
        sync()
        prefill_s = time.perf_counter() - t0

        host = torch.empty(n, dtype=torch.long, pin_memory=self.on_cuda)
        ready = torch.cuda.Event() if self.on_cuda else None

        def fetch_async() -> None:
            host.copy_(step.tokens, non_blocking=self.on_cuda)
            if ready is not None:
                ready.record()

        rows = RowTracker(n, eos_ids, on_step)
        t0 = time.perf_counter()
        fetch_async()
        for index in range(max_new_tokens):
            last = index == max_new_tokens - 1
            if not last:
                step.run()  # queued before the host looks at this step's tokens
            if ready is not None:
                ready.synchronize()
            current = host.tolist()
            if not last:
                fetch_async()
            if rows.advance(index, current):
                break
        sync()
        return rows.result(prefill_s, time.perf_counter() - t0)
