"""GPTConfig, MLP, TransformerBlock and GPT (module 13): shapes, causality, parameter counts, weight tying,
initialisation, gradients (float64 gradcheck), the loss, training, and errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from support import needs_autograd

import tinytorch as tt
from tinytorch.core.autograd import gradcheck
from tinytorch.core.tensor import Tensor
from tinytorch.text.transformers import GPT, MLP, GPTConfig, TransformerBlock

RNG = np.random.default_rng(2017)


def tiny(**overrides) -> GPTConfig:
    values = {"block_size": 8, "vocab_size": 11, "n_layer": 2, "n_head": 2, "n_embd": 8, "dropout": 0.0,
              "bias": True}
    values.update(overrides)
    return GPTConfig(**values)


def ids(batch: int, t: int, vocab: int = 11) -> Tensor:
    return Tensor(RNG.integers(0, vocab, (batch, t)))


# ----- config -------------------------------------------------------------------------------
def test_config_defaults_are_gpt2_small():
    c = GPTConfig()
    assert (c.block_size, c.vocab_size, c.n_layer, c.n_head, c.n_embd, c.dropout, c.bias) == (
        1024, 50304, 12, 12, 768, 0.0, True)


@pytest.mark.parametrize("field, value, message", [
    ("n_embd", 10, r"n_embd \(10\) must be divisible by n_head \(4\)"),
    ("n_layer", 0, "n_layer must be an int >= 1, got 0"),
    ("vocab_size", 2.0, "vocab_size must be an int"),
    ("block_size", -1, "block_size"),
    ("n_head", True, "n_head"),
    ("dropout", 1.0, r"dropout must be a number in \[0, 1\)"),
    ("dropout", "0.1", "dropout"),
])
def test_bad_config_values_name_the_field(field, value, message):
    values = {"n_embd": 8, "n_head": 4}
    values[field] = value
    with pytest.raises(ValueError, match=message):
        GPTConfig(**values)
    with pytest.raises(TypeError, match="bias must be True or False"):
        GPTConfig(bias=1)
    with pytest.raises(TypeError, match="config must be a GPTConfig"):
        GPT({"n_layer": 2})


# ----- building blocks ----------------------------------------------------------------------
def test_mlp_is_4x_wide_with_gelu():
    mlp = MLP(6, bias=False)
    assert mlp.c_fc.weight.shape == (24, 6) and mlp.c_proj.weight.shape == (6, 24) and mlp.c_fc.bias is None
    x = RNG.standard_normal((3, 6)).astype(np.float32)
    hidden = x @ mlp.c_fc.weight.data.T
    gelu = 0.5 * hidden * (1 + np.vectorize(math.erf)(hidden / math.sqrt(2)))
    np.testing.assert_allclose(mlp(Tensor(x)).data, gelu @ mlp.c_proj.weight.data.T, rtol=1e-4, atol=1e-6)


def test_block_is_causal_and_residual():
    tt.manual_seed(1)
    block = TransformerBlock(8, 2)
    x = RNG.standard_normal((2, 6, 8)).astype(np.float32)
    y = block(Tensor(x)).data
    changed = x.copy()
    changed[:, 4] += 3.0
    y2 = block(Tensor(changed)).data
    np.testing.assert_allclose(y2[:, :4], y[:, :4], atol=1e-5)
    assert not np.allclose(y2[:, 4], y[:, 4])
    assert [name for name, _ in block.named_children()] == ["ln_1", "attn", "ln_2", "mlp"]


@needs_autograd
def test_block_gradcheck():
    tt.manual_seed(2)
    block = TransformerBlock(4, 2).double()
    for p in block.parameters():
        p.data[...] = RNG.standard_normal(p.shape) * 0.5
    x = Tensor(RNG.standard_normal((2, 3, 4)), requires_grad=True)
    params = [block.ln_1.weight, block.attn.c_attn.weight, block.mlp.c_fc.bias, block.mlp.c_proj.weight]
    assert gradcheck(lambda t, *ps: block(t), (x, *params))


@needs_autograd
def test_tiny_gpt_gradcheck_through_the_tied_table():
    tt.manual_seed(3)
    model = GPT(tiny(block_size=4, vocab_size=5, n_layer=1, n_head=2, n_embd=4)).double()
    for p in model.parameters():
        p.data[...] = RNG.standard_normal(p.shape) * 0.5
    idx, targets = ids(2, 4, 5), ids(2, 4, 5)
    # wte.weight gets gradient from the lookup AND from the head (the same Parameter): both must add up.
    assert gradcheck(lambda w, p, g: model(idx, targets)[1], (model.wte.weight, model.wpe.weight, model.ln_f.weight))


# ----- the model ----------------------------------------------------------------------------
def test_parameter_count_matches_the_formula():
    c = tiny(bias=False)
    model = GPT(c)
    e, v, t, layers = c.n_embd, c.vocab_size, c.block_size, c.n_layer
    per_block = 2 * e + 3 * e * e + e * e + 8 * e * e  # two LayerNorm gains, c_attn, c_proj, MLP
    assert model.num_parameters(non_embedding=False) == v * e + t * e + layers * per_block + e
    assert model.num_parameters() == v * e + layers * per_block + e
    names = [name for name, _ in model.named_parameters()]
    assert "lm_head.weight" not in names and names[0] == "wte.weight", "the tied weight is listed once"
    assert "lm_head.weight" in model.state_dict() and "wte.weight" in model.state_dict(), "like PyTorch"


def test_weight_tying_and_init():
    tt.manual_seed(4)
    model = GPT(tiny(n_layer=4, n_embd=64, n_head=4, vocab_size=50, block_size=32))
    assert model.lm_head.weight is model.wte.weight
    assert abs(model.wte.weight.data.std() - 0.02) < 0.003 and abs(model.wpe.weight.data.std() - 0.02) < 0.003
    residual = 0.02 / math.sqrt(2 * 4)
    for block in model.blocks:
        for proj in (block.attn.c_proj, block.mlp.c_proj):
            assert abs(proj.weight.data.std() - residual) < 0.002, "residual projections: 0.02/sqrt(2*n_layer)"
            assert np.all(proj.bias.data == 0)
        assert abs(block.mlp.c_fc.weight.data.std() - 0.02) < 0.002
        assert np.all(block.ln_1.weight.data == 1) and np.all(block.ln_1.bias.data == 0)


def test_initial_loss_is_close_to_log_vocab():
    tt.manual_seed(5)
    model = GPT(tiny(vocab_size=40))
    _, loss = model(ids(4, 8, 40), ids(4, 8, 40))
    assert abs(loss.item() - math.log(40)) < 0.05


def test_forward_shapes_loss_and_ignore_index():
    tt.manual_seed(6)
    model = GPT(tiny())
    idx, targets = ids(3, 5), ids(3, 5)
    logits, loss = model(idx)
    assert logits.shape == (3, 5, 11) and loss is None and logits.dtype == np.float32
    logits, loss = model(idx, targets)
    logp = logits.data - np.log(np.exp(logits.data).sum(-1, keepdims=True))
    by_hand = -np.take_along_axis(logp, targets.data[..., None], -1).mean()
    assert loss.item() == pytest.approx(by_hand, rel=1e-5)
    masked = targets.data.copy()
    masked[0] = -1
    _, partial = model(idx, Tensor(masked))
    expected = -np.take_along_axis(logp[1:], targets.data[1:, :, None], -1).mean()
    assert partial.item() == pytest.approx(expected, rel=1e-5), "targets of -1 are ignored"


def test_shorter_contexts_use_the_first_positions():
    tt.manual_seed(7)
    model = GPT(tiny())
    idx = ids(2, 8)
    full, _ = model(idx)
    short, _ = model(Tensor(idx.data[:, :3]))
    np.testing.assert_allclose(short.data, full.data[:, :3], atol=1e-5)


def test_context_longer_than_block_size_is_a_clear_error():
    model = GPT(tiny())
    with pytest.raises(ValueError, match=r"context of 9 tokens, longer than block_size=8"):
        model(ids(1, 9))


def test_bad_idx_and_targets():
    model = GPT(tiny())
    with pytest.raises(ValueError, match=r"idx must be an integer Tensor of shape \(B, T\)"):
        model(Tensor(np.zeros((2, 3), dtype=np.float32)))
    with pytest.raises(ValueError, match="idx must be an integer Tensor"):
        model(ids(1, 3).reshape(3))
    with pytest.raises(ValueError, match=r"targets must have idx's shape \(2, 3\)"):
        model(ids(2, 3), ids(2, 4))
    with pytest.raises((ValueError, IndexError), match="11"):
        model(Tensor(np.array([[1, 11]])))


def test_optimizer_groups_decay_only_matrices():
    model = GPT(tiny())
    decay, no_decay = model.optimizer_groups(0.1)
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert all(p.ndim >= 2 for p in decay["params"]) and all(p.ndim < 2 for p in no_decay["params"])
    assert len(decay["params"]) + len(no_decay["params"]) == len(list(model.parameters()))


@needs_autograd
def test_a_tiny_gpt_learns_a_repeating_text():
    tt.manual_seed(8)
    model = GPT(tiny(n_layer=1, n_embd=16, vocab_size=5))
    data = np.tile(np.array([0, 1, 2, 3, 4, 3, 2, 1]), 8)
    x, y = Tensor(np.stack([data[i:i + 8] for i in range(6)])), Tensor(np.stack([data[i + 1:i + 9] for i in range(6)]))
    optimizer = tt.optim.AdamW(model.parameters(), lr=1e-2)
    first = None
    for _ in range(60):
        optimizer.zero_grad()
        _, loss = model(x, y)
        loss.backward()
        optimizer.step()
        first = loss.item() if first is None else first
    assert loss.item() < 0.2 < first, f"loss {first:.3f} -> {loss.item():.3f}: the pattern is fully predictable"


def test_dropout_is_active_only_in_training():
    tt.manual_seed(9)
    model = GPT(tiny(dropout=0.5))
    idx = ids(2, 8)
    model.eval()
    a, b = model(idx)[0].data, model(idx)[0].data
    assert np.array_equal(a, b)
    model.train()
    assert not np.allclose(model(idx)[0].data, a)
