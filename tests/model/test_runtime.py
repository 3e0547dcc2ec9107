"""Model runtime on a FAKE tiny Devstral (random weights, see conftest): loader, adapter,
batched candidates, streaming, stop sequences, request log, status, missing weights."""

from __future__ import annotations

import json
import sqlite3

import pytest
import torch

from ibert_jupyter.model import GenerationRequest, ModelUnavailable, runtime
from ibert_jupyter.model.config import ModelSettings
from ibert_jupyter.model.decoding import CompiledStep, decode
from ibert_jupyter.model.loader import load_local
from ibert_jupyter.model.local import LocalChatModel
from ibert_jupyter.model.status import model_status
from ibert_jupyter.model.tokenizer import MistralCommonTokenizer

MESSAGES = [{"role": "system", "content": "Write Ibis."}, {"role": "user", "content": "count orders"}]


def settings_for(tiny, **kw) -> ModelSettings:
    return ModelSettings(model=str(tiny["weights"]), device="cpu", **kw)


def test_loader_uses_devstral_class_and_tekken(tiny_devstral):
    from transformers import MistralForCausalLM

    loaded = load_local(settings_for(tiny_devstral))
    assert type(loaded.model) is MistralForCausalLM
    assert isinstance(loaded.tokenizer, MistralCommonTokenizer)
    ids = loaded.tokenizer.encode_chat(MESSAGES)
    assert ids[0] == 1  # <s>
    assert "count orders" in loaded.tokenizer.decode(ids)


def test_adapter_changes_the_model_and_merging_keeps_outputs(tiny_devstral):
    ids = torch.tensor([[1, 40, 50, 60, 70]])
    base = load_local(settings_for(tiny_devstral)).model
    merged = load_local(settings_for(tiny_devstral, adapter=str(tiny_devstral["adapter"]))).model
    unmerged = load_local(settings_for(tiny_devstral, adapter=str(tiny_devstral["adapter"]),
                                       merge_adapter=False)).model
    with torch.no_grad():
        a, b, c = (m(input_ids=ids).logits.float() for m in (base, merged, unmerged))
    assert not torch.allclose(a, b, atol=1e-2), "adapter had no effect"
    assert torch.allclose(b, c, atol=5e-2, rtol=5e-2)


def test_static_cache_path_matches_dynamic_cache(tiny_devstral):
    """The fast path's static cache (without compile, on CPU) decodes the same tokens."""
    model = load_local(settings_for(tiny_devstral)).model

    class EagerStep(CompiledStep):  # same cache handling, no torch.compile (CPU test)
        def __call__(self, input_ids, cache_position, past_key_values):
            return self._forward(input_ids, cache_position, past_key_values)

    prompt = [1, 3, 40, 41, 42, 4]
    plain = decode(model, prompt, n=2, max_new_tokens=10, temperature=0)
    step = EagerStep(model)
    static = decode(model, prompt, n=2, max_new_tokens=10, temperature=0, compiled_step=step)
    again = decode(model, prompt, n=2, max_new_tokens=10, temperature=0, compiled_step=step)  # reused cache
    assert plain.tokens == static.tokens == again.tokens
    assert len(plain.tokens[0]) == 10


def test_n_candidates_stream_and_respect_limits(tiny_devstral):
    model = LocalChatModel.from_settings(settings_for(tiny_devstral))
    streamed: dict[int, str] = {}
    request = GenerationRequest(messages=MESSAGES, n=3, max_new_tokens=12, temperature=1.0)
    completions = model.generate(request, lambda i, t: streamed.__setitem__(i, streamed.get(i, "") + t))
    assert len(completions) == 3
    for i, completion in enumerate(completions):
        assert completion.tokens <= 12
        assert streamed.get(i, "") == completion.text
    assert len({c.text for c in completions}) > 1, "sampling gave identical candidates"


def test_stop_sequence_cuts_the_text(tiny_devstral):
    model = LocalChatModel.from_settings(settings_for(tiny_devstral))
    full = model.generate(GenerationRequest(messages=MESSAGES, n=1, max_new_tokens=24, temperature=0))[0]
    assert len(full.text) >= 3, full
    stop = full.text[-2:]
    cut = model.generate(GenerationRequest(messages=MESSAGES, n=1, max_new_tokens=24, temperature=0,
                                           stop=(stop,)))[0]
    assert cut.text == full.text[: full.text.find(stop)]
    assert cut.finish_reason == "stop"


def test_missing_weights_give_exact_instructions(fresh_runtime, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelUnavailable) as info:
        runtime.get_default_model()
    message = str(info.value)
    assert "mistralai/Devstral-Small-2507" in message
    assert "huggingface-cli download" in message and "IBERT_MODEL=" in message
    assert "IBERT_OPENAI_BASE_URL" in message
    status = model_status()
    assert status["status"] == "unavailable" and status["loaded"] is False
    monkeypatch.setenv("IBERT_MODEL", str(tmp_path / "nowhere"))
    runtime.configure(None)
    with pytest.raises(ModelUnavailable, match="does not exist"):
        runtime.get_default_model()


def test_other_architectures_are_refused(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    with pytest.raises(ModelUnavailable, match="no other model"):
        load_local(ModelSettings(model=str(tmp_path), device="cpu"))


def test_bad_settings_name_the_variable():
    with pytest.raises(ValueError, match="IBERT_QUANTIZATION"):
        ModelSettings.from_env({"IBERT_QUANTIZATION": "int3"})
    with pytest.raises(ValueError, match="boolean"):
        ModelSettings.from_env({"IBERT_FAST_DECODE": "maybe"})


def test_default_model_from_env_logs_every_request(fresh_runtime, tiny_devstral, tmp_path, monkeypatch):
    monkeypatch.setenv("IBERT_MODEL", str(tiny_devstral["weights"]))
    monkeypatch.setenv("IBERT_DEVICE", "cpu")
    runtime.configure(None)
    assert model_status()["status"] == "available"  # status never loads
    assert runtime.loaded_model() is None
    model = runtime.get_default_model()
    assert runtime.get_default_model() is model
    model.generate(GenerationRequest(messages=MESSAGES, n=2, max_new_tokens=5))
    with pytest.raises(ValueError):
        model.generate(GenerationRequest(messages=MESSAGES, n=0))
    con = sqlite3.connect(tmp_path / "requests.sqlite")
    rows = con.execute("SELECT model, params, responses, duration_ms, error FROM requests ORDER BY id").fetchall()
    assert len(rows) == 2
    assert json.loads(rows[0][1])["n"] == 2 and len(json.loads(rows[0][2])) == 2 and rows[0][3] > 0
    assert rows[0][4] is None and "n must be at least 1" in rows[1][4]
    assert model_status()["status"] == "loaded"


@pytest.mark.gpu
def test_nf4_on_gpu(tiny_devstral):
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    model = LocalChatModel.from_settings(
        ModelSettings(model=str(tiny_devstral["weights"]), quantization="nf4", device="cuda"))
    out = model.generate(GenerationRequest(messages=MESSAGES, n=2, max_new_tokens=8))
    assert len(out) == 2
