"""Module 11: Embedding — lookup, PyTorch's init and padding row, the fast backward against a plain loop,
float64 gradcheck (repeated ids, padding_idx), and every bad-input error."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from support import needs_autograd

from tinytorch.core.autograd import gradcheck
from tinytorch.core.tensor import Tensor, cat, manual_seed
from tinytorch.text.embeddings import (
    Embedding,
    embedding,
    embedding_backward,
    embedding_backward_reference,
)


def loop_scatter(ids: np.ndarray, grad: np.ndarray, rows: int) -> np.ndarray:
    """Row r of the result = the sum of grad[n] over every n whose id is r (one Python step per id)."""
    total = np.zeros((rows, grad.shape[1]))
    for position, row in enumerate(ids.tolist()):
        total[row] = total[row] + grad[position]
    return total


def test_lookup_any_shape_of_ids():
    manual_seed(0)
    layer = Embedding(12, 5)
    for shape in [(), (4,), (2, 3), (2, 3, 4)]:
        ids = np.random.default_rng(1).integers(0, 12, shape)
        out = layer(Tensor(ids))
        assert out.shape == shape + (5,) and out.dtype == np.float32
        assert np.array_equal(out.data, layer.weight.data[ids])


def test_init_matches_pytorch():
    manual_seed(3)
    layer = Embedding(2000, 64)
    assert layer.weight.shape == (2000, 64) and layer.weight.requires_grad
    assert abs(layer.weight.data.mean()) < 0.01 and abs(layer.weight.data.std() - 1) < 0.01, "N(0, 1)"
    padded = Embedding(10, 3, padding_idx=-2)
    assert padded.padding_idx == 8, "a negative padding_idx counts from the end (PyTorch)"
    assert not padded.weight.data[8].any() and padded.weight.data[[0, 9]].all()
    assert repr(padded) == "Embedding(10, 3, padding_idx=8)" and repr(Embedding(4, 2)) == "Embedding(4, 2)"
    assert [name for name, _ in padded.named_parameters()] == ["weight"]
    assert Embedding(3, 2, dtype=np.float64).weight.dtype == np.float64


@pytest.mark.parametrize("vocab, n, dim", [(7, 50, 3), (65, 768, 16), (256, 300, 4), (257, 300, 4), (3000, 500, 6),
                                           (50257, 64, 3), (1, 10, 2)])
def test_fast_backward_matches_a_loop(vocab, n, dim):
    rng = np.random.default_rng(vocab)
    ids = rng.integers(0, vocab, n)
    grad = rng.standard_normal((n, dim)).astype(np.float32)
    expected = loop_scatter(ids, grad.astype(np.float64), vocab)
    for fn in (embedding_backward, embedding_backward_reference):
        got = fn(ids, grad, vocab)
        assert got.shape == (vocab, dim) and got.dtype == np.float32, fn.__name__
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-4, err_msg=fn.__name__)


@given(st.lists(st.integers(0, 9), min_size=1, max_size=60), st.integers(1, 4))
def test_fast_backward_property(ids, dim):
    ids = np.array(ids)
    grad = np.arange(ids.size * dim, dtype=np.float64).reshape(ids.size, dim) % 7 - 3
    for vocab in (10, 1000):  # both the one-hot and the sorted-runs path
        np.testing.assert_allclose(embedding_backward(ids, grad, vocab), loop_scatter(ids, grad, vocab))


def test_skewed_ids_sorted_path():
    ids = np.r_[np.zeros(5000, dtype=np.int64), np.arange(1, 300)]  # one id repeated thousands of times
    grad = np.ones((ids.size, 2))
    got = embedding_backward(ids, grad, 40000)
    assert got[0, 0] == 5000 and np.all(got[1:300] == 1) and not got[300:].any()


@needs_autograd
def test_gradcheck_repeated_ids():
    weight = Tensor(np.random.default_rng(0).standard_normal((6, 3)), requires_grad=True)
    ids = Tensor(np.array([[5, 5, 0], [2, 5, 0]]))
    assert gradcheck(lambda w: embedding(ids, w), (weight,))
    big = Tensor(np.random.default_rng(1).standard_normal((400, 2)), requires_grad=True)
    assert gradcheck(lambda w: embedding(Tensor(np.array([3, 399, 3, 0, 3])), w), (big,)), "sorted-runs path"


@needs_autograd
def test_gradcheck_padding_idx():
    # The padding row takes part in the forward pass but gets no gradient, so finite differences would
    # disagree on it by design; check every other row with the padding row held as a constant.
    rng = np.random.default_rng(2)
    top, bottom = (Tensor(rng.standard_normal(shape), requires_grad=True) for shape in [(2, 3), (3, 3)])
    pad_row = Tensor(rng.standard_normal((1, 3)))
    ids = Tensor(np.array([[2, 0, 2, 4], [1, 2, 2, 3]]))
    assert gradcheck(lambda a, b: embedding(ids, cat([a, pad_row, b]), padding_idx=2), (top, bottom))
    weight = Tensor(rng.standard_normal((5, 3)), requires_grad=True)
    embedding(ids, weight, padding_idx=2).backward(Tensor(np.ones((2, 4, 3))))
    assert not weight.grad.data[2].any(), "the padding row gets no gradient"
    assert np.allclose(weight.grad.data[[0, 1, 3, 4]].sum(1), [3, 3, 3, 3])


def test_training_step_leaves_padding_row_at_zero():
    manual_seed(0)
    layer = Embedding(5, 4, padding_idx=0)
    ids = Tensor(np.array([[0, 1, 0], [2, 0, 4]]))
    for _ in range(3):
        layer.weight.grad = None
        (layer(ids) ** 2).sum().backward()
        layer.weight.data -= 0.1 * layer.weight.grad.data
    assert not layer.weight.data[0].any()
    assert layer.weight.grad.dtype == np.float32


@pytest.mark.parametrize("ids, error, words", [
    (np.array([0, 10]), IndexError, ["token id 10", "num_embeddings=10"]),
    (np.array([[3, -1]]), IndexError, ["token id -1", "num_embeddings=10"]),
    (np.array([1.0, 2.0]), TypeError, ["integer", "float64"]),
    (np.array([True, False]), TypeError, ["integer", "bool"]),
])
def test_bad_ids(ids, error, words):
    layer = Embedding(10, 2)
    with pytest.raises(error) as caught:
        layer(Tensor(ids))
    assert all(word in str(caught.value) for word in words), str(caught.value)
    with pytest.raises(error):
        embedding(Tensor(ids), layer.weight)


def test_bad_arguments():
    with pytest.raises(TypeError, match="input must be a Tensor"):
        Embedding(4, 2)([1, 2])
    with pytest.raises(ValueError, match="num_embeddings must be >= 1"):
        Embedding(0, 3)
    with pytest.raises(TypeError, match="embedding_dim must be an int"):
        Embedding(4, 2.5)
    with pytest.raises(ValueError, match="padding_idx must be within num_embeddings"):
        Embedding(4, 2, padding_idx=4)
    with pytest.raises(TypeError, match="dtype must be a floating-point"):
        Embedding(4, 2, dtype=np.int64)
    with pytest.raises(ValueError, match="weight must be a 2-D Tensor"):
        embedding(Tensor(np.array([0])), Tensor(np.zeros(3)))
    with pytest.raises(TypeError, match="weight must be floating point"):
        embedding(Tensor(np.array([0])), Tensor(np.zeros((3, 2), dtype=np.int64)))



class _AddWithoutAt:
    """np.add with everything but .at (which fails the test when called)."""

    reduceat = staticmethod(np.add.reduceat)

    def __call__(self, *args, **kwargs):
        return np.add(*args, **kwargs)

    def at(self, *args, **kwargs):
        raise AssertionError("np.add.at is the teaching reference; the layer's backward must not call it")


class _NumpyWithoutAddAt:
    add = _AddWithoutAt()

    def __getattr__(self, name):
        return getattr(np, name)


@needs_autograd
@pytest.mark.parametrize("vocab", [65, 50257])  # the one-hot path and the sorted-runs path
def test_backward_does_not_use_np_add_at(vocab, monkeypatch):
    import tinytorch.text.embeddings as module

    layer = Embedding(vocab, 8)
    ids = Tensor(np.random.default_rng(0).integers(0, 40, (12, 64)))  # 768 tokens, many repeats
    out = layer(ids)
    monkeypatch.setattr(module, "np", _NumpyWithoutAddAt())
    out.backward(Tensor(np.ones(out.shape, dtype=np.float32)))
    counts = np.bincount(ids.data.ravel(), minlength=vocab)
    np.testing.assert_allclose(layer.weight.grad.data, np.repeat(counts[:, None], 8, axis=1))
    with pytest.raises(AssertionError, match="teaching reference"):  # the proxy does catch a call
        module.embedding_backward_reference(ids.data.ravel(), np.ones((768, 8)), vocab)
