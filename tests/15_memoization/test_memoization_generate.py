"""Module 15: cached generation gives the uncached tokens and logits; GPT.forward with a cache; bad input."""

from __future__ import annotations

import numpy as np
import pytest

import tinytorch as tt
from tinytorch.core.autograd import no_grad
from tinytorch.core.tensor import Tensor
from tinytorch.systems import memoization
from tinytorch.systems.memoization import KVCache, next_token_logits
from tinytorch.text.transformers import GPT, GPTConfig


def model(block_size: int = 10, seed: int = 0, dropout: float = 0.0) -> GPT:
    tt.manual_seed(seed)
    m = GPT(GPTConfig(block_size=block_size, vocab_size=13, n_layer=2, n_head=2, n_embd=16, dropout=dropout))
    rng = np.random.default_rng(seed)
    for p in m.parameters():  # larger than the init, so that every token depends on its whole context
        p.data[...] = rng.standard_normal(p.shape).astype(np.float32) * 0.4
    return m


def prompt(*rows) -> Tensor:
    return Tensor(np.array(rows, dtype=np.int64))


SETTINGS = [
    {"temperature": 0},
    {"temperature": 1.0},
    {"temperature": 0.7, "top_k": 4},
    {"temperature": 1.5, "top_k": 1},
]


@pytest.mark.parametrize("kwargs", SETTINGS)
@pytest.mark.parametrize("start, steps", [([[3]], 9), ([[1, 2, 3], [4, 5, 6]], 7), ([[1, 2, 3, 4], [5, 6, 7, 8]], 15),
                                          ([list(range(12))], 3)])
def test_cached_and_uncached_generation_give_identical_tokens(kwargs, start, steps):
    m = model()  # block_size 10: the last two cases run past it (context cropped, cache re-prefilled)
    plain = m.generate(prompt(*start), steps, generator=np.random.default_rng(11), use_cache=False, **kwargs)
    cached = m.generate(prompt(*start), steps, generator=np.random.default_rng(11), **kwargs)
    assert cached.data.dtype == np.int64 and cached.shape == plain.shape
    assert np.array_equal(cached.data, plain.data)


def test_sampling_follows_the_package_seed_with_the_cache_too():
    m = model()
    tt.manual_seed(4)
    plain = m.generate(prompt([2]), 12, use_cache=False).data
    tt.manual_seed(4)
    assert np.array_equal(m.generate(prompt([2]), 12).data, plain)


def test_cached_logits_equal_uncached_logits_at_every_step():
    m = model(block_size=8).eval()
    tokens = np.array([[1, 5, 2], [7, 7, 0]], dtype=np.int64)
    cache = KVCache.for_model(m, 2)
    rng = np.random.default_rng(0)
    with no_grad():
        for step in range(12):  # past block_size 8 from step 6 on
            fast = next_token_logits(m, tokens, cache)
            slow = m(Tensor(tokens[:, -8:]))[0].data[:, -1]
            np.testing.assert_allclose(fast, slow, rtol=1e-4, atol=1e-5, err_msg=f"step {step}")
            assert cache.length == min(tokens.shape[1], 8)
            tokens = np.concatenate([tokens, rng.integers(0, 13, (2, 1))], axis=1)


def test_forward_with_a_cache_places_new_tokens_after_the_cached_ones():
    m = model().eval()
    idx = np.array([[4, 8, 1, 12, 0, 3]], dtype=np.int64)
    cache = KVCache.for_model(m, 1)
    with no_grad():
        whole = m(Tensor(idx))[0].data
        first = m(Tensor(idx[:, :4]), kv_cache=cache)[0].data
        rest = m(Tensor(idx[:, 4:]), kv_cache=cache)[0].data
    np.testing.assert_allclose(np.concatenate([first, rest], axis=1), whole, rtol=1e-4, atol=1e-5)
    assert cache.length == 6


def test_forward_past_block_size_with_a_cache_is_a_clear_error():
    m = model(block_size=5).eval()
    cache = KVCache.for_model(m, 1)
    with no_grad():
        m(Tensor(np.zeros((1, 4), dtype=np.int64)), kv_cache=cache)
        with pytest.raises(ValueError, match="2 tokens after the 4 cached ones, longer than block_size=5"):
            m(Tensor(np.zeros((1, 2), dtype=np.int64)), kv_cache=cache)


def test_generate_keeps_its_contract_with_the_cache():
    m = model(dropout=0.2)
    m.train()
    out = m.generate(prompt([1, 2]), 4, temperature=0)
    assert m.training and not out.requires_grad, "eval during generation, the mode restored afterwards"
    assert np.array_equal(out.data, m.generate(prompt([1, 2]), 4, temperature=0, use_cache=False).data), (
        "dropout is off while generating, with or without the cache")
    assert m.generate(prompt([1, 2]), 0).data.tolist() == [[1, 2]]
    with pytest.raises(TypeError, match="use_cache must be True or False"):
        m.generate(prompt([1]), 2, use_cache=1)


def test_next_token_logits_rejects_bad_tokens_and_another_batch():
    m = model().eval()
    cache = KVCache.for_model(m, 2)
    with no_grad():
        with pytest.raises(ValueError, match=r"tokens must be an integer array \(B, T\)"):
            next_token_logits(m, np.zeros((2, 3)), cache)
        with pytest.raises(ValueError, match="made for batch size 2, got 3 sequences"):
            next_token_logits(m, np.zeros((3, 3), dtype=np.int64), cache)


def test_an_unfinished_module_15_points_to_use_cache_false(monkeypatch):
    def stub(*args, **kwargs):
        raise NotImplementedError("next_token_logits is not implemented yet, see modules/15_memoization")

    monkeypatch.setattr(memoization, "next_token_logits", stub)
    with pytest.raises(NotImplementedError, match=r"see modules/15_memoization.*use_cache=False"):
        model().generate(prompt([1]), 3)
    assert model().generate(prompt([1]), 3, use_cache=False).shape == (1, 4)


def test_a_cache_under_grad_mode_is_refused_by_the_model():
    m = model().eval()
    cache = KVCache.for_model(m, 1)
    with pytest.raises(RuntimeError, match="KV cache is for inference.*no_grad"):
        m(Tensor(np.zeros((1, 2), dtype=np.int64)), kv_cache=cache)
    assert cache.length == 0, "nothing was stored"
