"""Module 15: KVCache (append, views, reset, memory), the offset causal mask, cached attention, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from tinytorch.core.autograd import no_grad
from tinytorch.core.tensor import Tensor, manual_seed
from tinytorch.systems.memoization import KVCache, cached_attention, offset_causal_mask
from tinytorch.text.attention import CausalSelfAttention


def random(shape, seed=0, dtype=np.float32) -> Tensor:
    return Tensor(np.random.default_rng(seed).standard_normal(shape).astype(dtype))


def small_cache(**overrides) -> KVCache:
    sizes = {"n_layer": 2, "batch_size": 2, "n_head": 3, "max_len": 6, "head_dim": 4} | overrides
    return KVCache(**sizes)


# ----- KVCache ----------------------------------------------------------------------------------
def test_update_appends_in_order_and_returns_views_of_the_preallocated_arrays():
    cache = small_cache()
    arrays = [id(a) for a in cache.keys + cache.values]
    pieces = [random((2, 3, n, 4), seed=n) for n in (2, 1, 3)]
    for piece in pieces:
        keys, values = cache.update(1, piece, Tensor(-piece.data))
    stacked = np.concatenate([p.data for p in pieces], axis=2)
    assert keys.shape == (2, 3, 6, 4) and np.array_equal(keys.data, stacked)
    assert np.array_equal(values.data, -stacked)
    assert keys.data.base is cache.keys[1] or np.shares_memory(keys.data, cache.keys[1])
    assert [id(a) for a in cache.keys + cache.values] == arrays, "nothing is reallocated"
    assert cache.lengths == [0, 6] and cache.length == 0, "layers count separately"


def test_a_later_update_does_not_change_earlier_views():
    cache = small_cache(n_layer=1)
    first, _ = cache.update(0, random((2, 3, 2, 4)), random((2, 3, 2, 4)))
    snapshot = first.data.copy()
    cache.update(0, random((2, 3, 2, 4), seed=5), random((2, 3, 2, 4), seed=6))
    assert np.array_equal(first.data, snapshot)


def test_reset_forgets_positions_but_keeps_the_memory():
    cache = small_cache()
    cache.update(0, random((2, 3, 4, 4)), random((2, 3, 4, 4)))
    before = cache.keys[0]
    cache.reset()
    assert cache.lengths == [0, 0] and cache.keys[0] is before
    keys, _ = cache.update(0, random((2, 3, 6, 4), seed=2), random((2, 3, 6, 4)))
    assert keys.shape == (2, 3, 6, 4), "after reset the whole max_len is free again"


def test_memory_accounting_matches_the_arrays():
    cache = KVCache(n_layer=4, batch_size=3, n_head=4, max_len=64, head_dim=32)
    assert cache.bytes_per_token == 2 * 4 * 128 * 4  # keys and values, 4 layers, 128 floats each
    assert cache.nbytes == sum(a.nbytes for a in cache.keys + cache.values)
    assert cache.used_bytes == 0
    cache.update(0, random((3, 4, 10, 32)), random((3, 4, 10, 32)))
    assert cache.used_bytes == 10 * 3 * cache.bytes_per_token
    half = KVCache(n_layer=4, batch_size=3, n_head=4, max_len=64, head_dim=32, dtype=np.float16)
    assert half.nbytes * 2 == cache.nbytes
    assert "max_len=64" in repr(cache) and "MiB" in repr(cache)


def test_for_model_reads_the_config():
    from tinytorch.text.transformers import GPT, GPTConfig

    model = GPT(GPTConfig(block_size=16, vocab_size=10, n_layer=3, n_head=2, n_embd=8))
    cache = KVCache.for_model(model, batch_size=5)
    assert (cache.n_layer, cache.batch_size, cache.n_head, cache.max_len, cache.head_dim) == (3, 5, 2, 16, 4)
    assert KVCache.for_model(model, 1, max_len=7).max_len == 7
    with pytest.raises(ValueError, match="longer than the model's block_size 16"):
        KVCache.for_model(model, 1, max_len=17)


# ----- bad input --------------------------------------------------------------------------------
def test_a_full_cache_is_a_clear_error_not_a_sliding_window():
    cache = small_cache(max_len=4)
    cache.update(0, random((2, 3, 3, 4)), random((2, 3, 3, 4)))
    with pytest.raises(ValueError, match=r"layer 0 holds 3 of 4 positions; 2 more do not fit.*does not slide"):
        cache.update(0, random((2, 3, 2, 4)), random((2, 3, 2, 4)))
    assert cache.lengths[0] == 3, "a refused update changes nothing"


def test_a_cache_reused_with_another_batch_size_is_refused():
    cache = small_cache(batch_size=2)
    with pytest.raises(ValueError, match="made for batch size 2, got a key for batch size 3"):
        cache.update(0, random((3, 3, 1, 4)), random((3, 3, 1, 4)))


@pytest.mark.parametrize("shape, message", [
    ((2, 4, 1, 4), r"key must have shape \(2, 3, 'T_new', 4\), got \(2, 4, 1, 4\)"),
    ((2, 3, 1, 5), r"key must have shape"),
    ((2, 3, 4), r"key must have shape"),
    ((2, 3, 0, 4), r"key must have shape"),
])
def test_wrong_shapes_are_refused(shape, message):
    with pytest.raises(ValueError, match=message):
        small_cache().update(0, random(shape), random(shape))


def test_wrong_dtypes_types_layers_and_mismatched_values_are_refused():
    cache = small_cache()
    ok = random((2, 3, 1, 4))
    with pytest.raises(TypeError, match="key has dtype float64, the cache holds float32"):
        cache.update(0, random((2, 3, 1, 4), dtype=np.float64), ok)
    with pytest.raises(TypeError, match="value must be a Tensor"):
        cache.update(0, ok, ok.data)
    for layer in (-1, 2, 1.0, True):
        with pytest.raises(ValueError, match=r"layer must be an int in \[0, 2\)"):
            cache.update(layer, ok, ok)
    with pytest.raises(ValueError, match="key and value must have one shape"):
        cache.update(0, ok, random((2, 3, 2, 4)))
    assert cache.lengths == [0, 0]


@pytest.mark.parametrize("kwargs, message", [
    ({"n_layer": 0}, "n_layer must be an int >= 1"),
    ({"batch_size": 2.0}, "batch_size must be an int >= 1"),
    ({"max_len": -3}, "max_len must be an int >= 1"),
    ({"head_dim": True}, "head_dim must be an int >= 1"),
])
def test_bad_sizes_name_themselves(kwargs, message):
    with pytest.raises(ValueError, match=message):
        small_cache(**kwargs)


def test_integer_dtype_is_refused():
    with pytest.raises(TypeError, match="dtype must be a floating-point type, got int32"):
        small_cache(dtype=np.int32)


def test_the_cache_is_for_inference_only():
    cache = small_cache()
    tracked = Tensor(np.ones((2, 3, 1, 4), dtype=np.float32), requires_grad=True)
    with pytest.raises(RuntimeError, match="for inference.*no_grad"):
        cache.update(0, tracked, tracked)
    with no_grad():
        cache.update(0, tracked, tracked)  # under no_grad nothing is recorded: allowed
    manual_seed(0)
    attn = CausalSelfAttention(12, 3).eval()
    with pytest.raises(RuntimeError, match="for inference.*no_grad"):
        attn(random((2, 2, 12)), kv_cache=small_cache())


def test_kv_cache_argument_must_be_a_cache():
    attn = CausalSelfAttention(12, 3).eval()
    with no_grad(), pytest.raises(TypeError, match="kv_cache must be a KVCache"):
        attn(random((2, 2, 12)), kv_cache={"keys": []})


# ----- offset causal mask -----------------------------------------------------------------------
@pytest.mark.parametrize("new, total", [(2, 2), (3, 5), (4, 9), (7, 8)])
def test_offset_mask_lets_each_new_query_see_exactly_its_past(new, total):
    mask = offset_causal_mask(new, total)
    offset = total - new
    by_hand = np.array([[j <= offset + i for j in range(total)] for i in range(new)])
    assert mask.dtype == np.bool_ and np.array_equal(mask, by_hand)


def test_offset_mask_for_one_token_is_none_and_bad_counts_are_refused():
    assert offset_causal_mask(1, 1) is None and offset_causal_mask(1, 30) is None
    with pytest.raises(ValueError, match=r"new_tokens \(4\) cannot exceed total \(3\)"):
        offset_causal_mask(4, 3)
    with pytest.raises(ValueError, match="new_tokens must be an int >= 1"):
        offset_causal_mask(0, 3)


# ----- cached attention -------------------------------------------------------------------------
@pytest.mark.parametrize("chunks", [[7], [1] * 7, [3, 1, 1, 2], [2, 5]])
def test_attention_in_chunks_through_the_cache_equals_one_pass(chunks):
    manual_seed(1)
    attn = CausalSelfAttention(12, 3, block_size=7).eval()
    x = random((2, 7, 12), seed=3)
    cache = KVCache(n_layer=1, batch_size=2, n_head=3, max_len=7, head_dim=4)
    with no_grad():
        whole = attn(x).data
        outputs, start = [], 0
        for size in chunks:
            outputs.append(cached_attention(attn, x[:, start:start + size], cache, 0).data)
            start += size
    np.testing.assert_allclose(np.concatenate(outputs, axis=1), whole, rtol=1e-5, atol=1e-6)
    assert cache.length == 7
