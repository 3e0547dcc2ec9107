"""Packing keeps examples apart: positions restart, attention never crosses, loss only on the answer."""

from __future__ import annotations

import pytest
import torch

from ibert_jupyter.training.dataset import TokenizedExample
from ibert_jupyter.training.loss import frozen_head_cross_entropy
from ibert_jupyter.training.packing import IGNORE, collate, pack, targets_for


def _examples(lengths, prompt=2):
    return [TokenizedExample(str(i), tuple(range(10 * i, 10 * i + n)), prompt) for i, n in enumerate(lengths)]


def test_pack_fits_rows_and_drops_only_too_long_examples():
    examples = _examples([5, 9, 4, 7, 3, 12])
    result = pack(examples, seq_len=10)
    assert result.dropped == 1  # the 12-token example is never truncated
    assert all(len(row.ids) <= 10 for row in result.rows)
    assert sorted(n for row in result.rows for n in row.lengths) == [3, 4, 5, 7, 9]
    assert sum(len(row.ids) for row in result.rows) == 28  # no padding anywhere


def test_targets_cover_the_answer_only():
    example = TokenizedExample("a", (1, 2, 3, 4, 5, 6), n_prompt=4)
    assert targets_for(example) == [IGNORE, IGNORE, IGNORE, 5, 6, IGNORE]


def test_collate_restarts_positions_per_example():
    rows = pack(_examples([3, 4]), seq_len=8).rows
    batch = collate(rows)
    assert batch["position_ids"].tolist() == [[0, 1, 2, 3, 0, 1, 2]]
    assert batch["cu_seqlens"] == (0, 4, 7)


@pytest.fixture(scope="module")
def tiny_model():
    """FAKE WEIGHTS: a tiny random Mistral (Devstral's architecture)."""
    from transformers import MistralConfig, MistralForCausalLM

    from ibert_jupyter.training import attention

    torch.manual_seed(0)
    config = MistralConfig(vocab_size=97, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                           num_attention_heads=4, num_key_value_heads=2, head_dim=8, sliding_window=None)
    model = MistralForCausalLM(config).eval()
    attention.use(model, attention.NAME)
    return model


def test_packed_row_equals_each_example_alone(tiny_model):
    a, b = [5, 17, 3, 44, 8], [9, 2, 61, 7]
    batch = collate(pack([TokenizedExample("a", tuple(a), 1), TokenizedExample("b", tuple(b), 1)], 16).rows)
    with torch.no_grad():
        packed = tiny_model.model(input_ids=batch["input_ids"], position_ids=batch["position_ids"],
                                  ibert_cu_seqlens=batch["cu_seqlens"]).last_hidden_state[0]
        alone = {tuple(x): tiny_model.model(input_ids=torch.tensor([x])).last_hidden_state[0] for x in (a, b)}
    first = batch["input_ids"][0, : batch["cu_seqlens"][1]].tolist()
    order = [first, b if first == a else a]
    expected = torch.cat([alone[tuple(x)] for x in order])
    torch.testing.assert_close(packed, expected, atol=1e-5, rtol=1e-4)
    # and without the boundaries the second example would see the first (the mask matters)
    with torch.no_grad():
        leaky = tiny_model.model(input_ids=batch["input_ids"], position_ids=batch["position_ids"]).last_hidden_state[0]
    assert not torch.allclose(leaky[len(order[0]):], expected[len(order[0]):], atol=1e-3)


def test_chunked_cross_entropy_matches_the_full_logits_loss():
    torch.manual_seed(1)
    hidden = torch.randn(37, 16, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(50, 16, dtype=torch.float64)
    targets = torch.randint(0, 50, (37,))
    loss = frozen_head_cross_entropy(hidden, weight, targets, chunk=8)
    loss.backward()
    ref_hidden = hidden.detach().clone().requires_grad_(True)
    ref = torch.nn.functional.cross_entropy(ref_hidden @ weight.t(), targets)
    ref.backward()
    torch.testing.assert_close(loss.double(), ref, rtol=1e-6, atol=1e-6)  # the sum is kept in fp32
    torch.testing.assert_close(hidden.grad, ref_hidden.grad)


def test_chunked_cross_entropy_refuses_a_trainable_head():
    with pytest.raises(ValueError, match="frozen"):
        frozen_head_cross_entropy(torch.randn(2, 4), torch.randn(5, 4, requires_grad=True), torch.tensor([0, 1]))
