"""The fused decode path on a FAKE tiny Devstral (random weights of Devstral's architecture,
see conftest): same logits and tokens as the transformers forward, N candidates from one
prefill, stop handling, and refusal of models it cannot run exactly. CPU, no compile."""

from __future__ import annotations

import pytest
import torch

from ibert_jupyter.model import GenerationRequest
from ibert_jupyter.model.config import ModelSettings
from ibert_jupyter.model.decoding import decode, pick
from ibert_jupyter.model.fast_decode import FusedDecoder
from ibert_jupyter.model.fused_mistral import FusedMistral, UnsupportedModel
from ibert_jupyter.model.loader import load_local
from ibert_jupyter.model.local import LocalChatModel


def float_model(tiny, **kw):
    return load_local(ModelSettings(model=str(tiny["weights"]), device="cpu", **kw)).model.float().eval()


@pytest.mark.parametrize("attention", ["matmul", "reduce", "triton"])
def test_fused_forward_matches_transformers_logits(tiny_devstral, attention):
    model = float_model(tiny_devstral)
    ids = torch.randint(3, 200, (1, 24), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        reference = model(input_ids=ids).logits[0]
    fused = FusedMistral(model, decode_attention=attention)
    cache = fused.new_cache(2, 64)
    cos, sin = fused.rope_tables(64)
    logits = fused.forward(ids[:, :16].expand(2, -1), torch.arange(16), cache, cos, sin)  # prefill
    assert torch.allclose(logits[0], reference[15], atol=1e-4)
    for t in range(16, 24):  # one token at a time, as the decode step does
        logits = fused.forward(ids[:, t:t + 1].expand(2, -1), torch.tensor([t]), cache, cos, sin)
        assert torch.allclose(logits[0], reference[t], atol=1e-4), t
        assert torch.equal(logits[0], logits[1])
    with torch.no_grad():  # fusing made q/k/v and gate/up views: the transformers model is unchanged
        assert torch.equal(model(input_ids=ids).logits[0], reference)


def test_fused_greedy_tokens_equal_plain_loop_and_prefill_is_shared(tiny_devstral):
    model = float_model(tiny_devstral)
    prompt = [1, 3, 40, 41, 42, 43, 44, 4]
    plain = decode(model, prompt, n=3, max_new_tokens=12, temperature=0)
    decoder = FusedDecoder(model)
    fused = decoder.decode(prompt, n=3, max_new_tokens=12, temperature=0)
    again = decoder.decode(prompt, n=3, max_new_tokens=12, temperature=0)  # cache reused
    assert fused.tokens == plain.tokens == again.tokens
    assert all(len(row) == 12 for row in fused.tokens)
    step = decoder.step_for(3, len(prompt) + 13, True)
    keys = step.cache.keys[0]
    assert torch.equal(keys[0, :, :len(prompt)], keys[2, :, :len(prompt)])


def test_fused_sampling_gives_distinct_candidates_and_honours_stops(tiny_devstral):
    decoder = FusedDecoder(float_model(tiny_devstral))
    torch.manual_seed(0)
    sampled = decoder.decode([1, 50, 60], n=4, max_new_tokens=10, temperature=1.0)
    assert len({tuple(row) for row in sampled.tokens}) > 1
    seen = []

    def stop_row_1_at_step_2(step, tokens):
        seen.append(list(tokens))
        return {1} if step == 2 else None

    result = decoder.decode([1, 50, 60], n=2, max_new_tokens=10, temperature=0, on_step=stop_row_1_at_step_2)
    assert result.finish_reasons == ["length", "stop"]
    assert len(result.tokens[1]) == 3 and len(result.tokens[0]) == 10
    assert [row[0] for row in seen[:3]] == result.tokens[0][:3]


def test_pick_samples_only_inside_the_nucleus():
    logits = torch.tensor([[5.0, 4.0, 0.0, -1.0]]).repeat(2000, 1)
    uniform = torch.rand(2000, generator=torch.Generator().manual_seed(1))
    chosen = pick(logits, 1.0, 0.5, uniform, greedy=False)
    assert set(chosen.tolist()) == {0}  # token 0 alone holds > 50% of the mass
    chosen = pick(logits, 1.0, 0.9, uniform, greedy=False)
    assert set(chosen.tolist()) == {0, 1}  # probabilities 0.73, 0.27, 0.005, 0.002
    chosen = pick(logits, 1.0, 0.995, uniform, greedy=False)
    assert set(chosen.tolist()) == {0, 1, 2}  # token 3 starts past 0.998 of the mass
    assert pick(logits[:1], 0.0, 1.0, None, greedy=True).tolist() == [0]


def test_unmerged_adapter_is_refused_and_the_chat_model_falls_back(tiny_devstral):
    unmerged = load_local(ModelSettings(model=str(tiny_devstral["weights"]), device="cpu",
                                        adapter=str(tiny_devstral["adapter"]), merge_adapter=False)).model
    with pytest.raises(UnsupportedModel, match="merge the adapter"):
        FusedMistral(unmerged)
    settings = ModelSettings(model=str(tiny_devstral["weights"]), device="cpu", adapter=str(tiny_devstral["adapter"]),
                             merge_adapter=False)
    chat = LocalChatModel(load_local(settings), settings, fast_decode=True)
    assert chat.decode_path == "plain"
    request = GenerationRequest(messages=[{"role": "user", "content": "hi"}], n=2, max_new_tokens=4)
    assert len(chat.generate(request)) == 2


def test_chat_model_streams_through_the_fused_path(tiny_devstral):
    settings = ModelSettings(model=str(tiny_devstral["weights"]), device="cpu")
    chat = LocalChatModel(load_local(settings), settings, fast_decode=True)
    assert chat.decode_path == "fused"
    streamed: dict[int, str] = {}
    request = GenerationRequest(messages=[{"role": "user", "content": "count orders"}], n=3, max_new_tokens=8,
                                temperature=1.0)
    completions = chat.generate(request, lambda i, t: streamed.__setitem__(i, streamed.get(i, "") + t))
    assert len(completions) == 3
    assert all(streamed.get(i, "") == c.text for i, c in enumerate(completions))


def test_bench_decode_runs_the_fused_path_on_a_tiny_config(capsys):
    """The benchmark's own code on CPU (tiny shapes); speed is measured on the GPU machine."""
    import argparse
    import json

    from ibert_jupyter.evaluation import bench_decode

    parser = argparse.ArgumentParser()
    bench_decode.add_arguments(parser)
    args = parser.parse_args(["--config", "tiny", "--device", "cpu", "--new-tokens", "6", "--n", "3",
                              "--baseline-tokens", "3", "--json"])
    assert bench_decode.run(args) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["path"] == "fused"
    assert summary["model"].startswith("RANDOM weights")
    assert summary["tok_s"] > 0 and summary["n8_over_n1_wall"] > 0
    assert summary["runs"]["fused"]["sampled_n3"]["n"] == 3
    assert "hf-compiled" not in summary["runs"]  # CUDA-graph path: GPU only
