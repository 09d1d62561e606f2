"""GPT.generate and sample_next (module 13): greedy decoding, temperature, top-k, seeded sampling,
cropping to block_size, mode restoring and bad arguments. These test module 13's own loop
(use_cache=False); tests/15_memoization checks that the KV cache gives the same tokens."""

from __future__ import annotations

import numpy as np
import pytest

import tinytorch as tt
from tinytorch.core.tensor import Tensor
from tinytorch.text.transformers import GPT, GPTConfig, sample_next


def model(seed: int = 0, block_size: int = 6) -> GPT:
    tt.manual_seed(seed)
    m = GPT(GPTConfig(block_size=block_size, vocab_size=9, n_layer=1, n_head=2, n_embd=8))
    for p in m.parameters():  # larger weights than the init, so the next-token choices differ by position
        p.data[...] = np.random.default_rng(seed).standard_normal(p.shape).astype(np.float32) * 0.5
    return m


def prompt(*rows) -> Tensor:
    return Tensor(np.array(rows, dtype=np.int64))


def greedy_by_hand(m: GPT, tokens: np.ndarray, steps: int) -> np.ndarray:
    for _ in range(steps):
        logits, _ = m(Tensor(tokens[:, -m.config.block_size:]))
        tokens = np.concatenate([tokens, logits.data[:, -1].argmax(-1)[:, None]], axis=1)
    return tokens


def test_greedy_is_deterministic_and_is_the_argmax():
    m = model()
    start = prompt([1, 2], [3, 4])
    first = m.generate(start, 5, temperature=0, use_cache=False).data
    assert first.shape == (2, 7) and first.dtype == np.int64
    assert np.array_equal(first[:, :2], start.data), "the prompt is kept"
    assert np.array_equal(m.generate(start, 5, temperature=0, use_cache=False).data, first)
    assert np.array_equal(first, greedy_by_hand(m, start.data, 5))
    assert np.array_equal(m.generate(start, 5, top_k=1, use_cache=False).data, first), "top_k=1 is greedy too"


def test_generation_crops_the_context_to_block_size():
    m = model(block_size=4)
    start = prompt([1, 2, 3, 4, 5, 6])  # already longer than block_size: only the last 4 count
    out = m.generate(start, 6, temperature=0, use_cache=False).data
    assert out.shape == (1, 12)
    assert np.array_equal(out, greedy_by_hand(m, start.data, 6))
    cropped = m.generate(prompt([3, 4, 5, 6]), 6, temperature=0, use_cache=False).data
    assert np.array_equal(out[:, 6:], cropped[:, 4:]), "tokens before the last block_size make no difference"


def test_seeded_sampling_is_reproducible():
    m = model()
    start = prompt([0])
    a = m.generate(start, 20, generator=np.random.default_rng(7), use_cache=False).data
    b = m.generate(start, 20, generator=np.random.default_rng(7), use_cache=False).data
    c = m.generate(start, 20, generator=np.random.default_rng(8), use_cache=False).data
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    tt.manual_seed(3)
    d = m.generate(start, 20, use_cache=False).data
    tt.manual_seed(3)
    again = m.generate(start, 20, use_cache=False).data
    assert np.array_equal(again, d), "the default generator follows tt.manual_seed"


def test_sample_next_respects_top_k_and_temperature():
    logits = np.array([[0.0, 3.0, 1.0, 2.9, -1.0]] * 2000)
    rng = np.random.default_rng(0)
    picks = sample_next(logits, temperature=1.0, top_k=2, generator=rng)
    assert set(np.unique(picks)) == {1, 3}, "only the two largest logits may be drawn"
    free = sample_next(logits, temperature=1.0, generator=rng)
    counts = np.bincount(free, minlength=5) / len(free)
    probs = np.exp(logits[0]) / np.exp(logits[0]).sum()
    np.testing.assert_allclose(counts, probs, atol=0.03)
    cold = sample_next(logits, temperature=0.05, generator=rng)
    assert np.mean(cold == 1) > 0.8, "a low temperature concentrates on the largest logit"
    assert np.array_equal(sample_next(logits[:3], temperature=0), [1, 1, 1])
    assert sample_next(logits[:2], top_k=10, generator=rng).shape == (2,), "top_k above the vocabulary keeps all"


def test_generate_runs_in_eval_mode_without_a_graph_and_restores_the_mode():
    m = model()
    m.train()
    out = m.generate(prompt([1]), 3, use_cache=False)
    assert m.training and not out.requires_grad
    m.eval()
    m.generate(prompt([1]), 3, use_cache=False)
    assert not m.training
    assert m.generate(prompt([1, 2]), 0, use_cache=False).data.tolist() == [[1, 2]]


@pytest.mark.parametrize("kwargs, message", [
    ({"max_new_tokens": -1}, "max_new_tokens must be an int >= 0"),
    ({"max_new_tokens": 2.0}, "max_new_tokens"),
    ({"max_new_tokens": 2, "temperature": -0.5}, "temperature must be a number >= 0"),
    ({"max_new_tokens": 2, "top_k": 0}, "top_k must be an int >= 1"),
])
def test_bad_generate_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        model().generate(prompt([1]), **kwargs)


def test_bad_prompt():
    with pytest.raises(ValueError, match=r"idx must be an integer Tensor of shape \(B, T\)"):
        model().generate(Tensor(np.array([1, 2])), 2)
