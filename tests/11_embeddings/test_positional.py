"""Module 11: positional encodings — the sinusoidal formula term by term, learned positions as an
Embedding over positions, RoPE against complex multiplication, offsets (start), state_dict contents,
gradients and errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from support import needs_autograd

from tinytorch.core.autograd import gradcheck
from tinytorch.core.tensor import Tensor, manual_seed
from tinytorch.text.embeddings import (
    PositionalEmbedding,
    RotaryEmbedding,
    SinusoidalPositionalEncoding,
    sinusoidal_table,
)


@pytest.mark.parametrize("max_len, dim", [(10, 4), (7, 5), (3, 1), (100, 64)])
def test_sinusoidal_formula(max_len, dim):
    table = sinusoidal_table(max_len, dim)
    assert table.shape == (max_len, dim) and table.dtype == np.float32
    for position in range(0, max_len, max(1, max_len // 5)):
        for column in range(dim):
            pair = column // 2
            angle = position / 10000 ** (2 * pair / dim)
            want = math.sin(angle) if column % 2 == 0 else math.cos(angle)
            assert abs(table[position, column] - want) < 1e-6, (position, column)


def test_sinusoidal_module_adds_rows_and_keeps_no_state():
    encoding = SinusoidalPositionalEncoding(20, 6)
    assert list(encoding.parameters()) == [] and dict(encoding.state_dict()) == {}
    assert [name for name, _ in encoding.named_buffers()] == ["pe"]
    x = Tensor(np.random.default_rng(0).standard_normal((3, 4, 6)).astype(np.float32), requires_grad=True)
    out = encoding(x, start=5)
    np.testing.assert_allclose(out.data, x.data + sinusoidal_table(20, 6)[5:9], rtol=1e-6)
    assert out.dtype == np.float32
    out.sum().backward()
    assert np.all(x.grad.data == 1), "adding a constant passes the gradient through unchanged"
    doubles = encoding(Tensor(np.zeros((2, 6))))
    assert doubles.dtype == np.float64, "the table follows the input's dtype"
    assert repr(encoding) == "SinusoidalPositionalEncoding(max_len=20, dim=6)"


def test_learned_positions_are_an_embedding_over_positions():
    manual_seed(0)
    positions = PositionalEmbedding(8, 4)
    weight = positions.embedding.weight
    assert weight.shape == (8, 4) and list(dict(positions.state_dict())) == ["embedding.weight"]
    x = Tensor(np.zeros((2, 3, 4), dtype=np.float32))
    np.testing.assert_array_equal(positions(x).data[1], weight.data[:3])
    np.testing.assert_array_equal(positions(x, start=5).data[0], weight.data[5:8])


@needs_autograd
def test_learned_positions_gradcheck():
    positions = PositionalEmbedding(6, 3, dtype=np.float64)
    positions.embedding.weight.data[...] = np.random.default_rng(0).standard_normal((6, 3))
    x = Tensor(np.random.default_rng(1).standard_normal((2, 4, 3)), requires_grad=True)
    assert gradcheck(lambda x, w: positions(x, start=1), (x, positions.embedding.weight))
    assert gradcheck(lambda x: x * positions(x, start=2), (x,))


@pytest.mark.parametrize("make", [lambda: PositionalEmbedding(5, 4), lambda: SinusoidalPositionalEncoding(5, 4)])
def test_position_errors(make):
    module = make()
    with pytest.raises(ValueError, match=r"positions 0\.\.5 do not fit in max_len=5"):
        module(Tensor(np.zeros((1, 6, 4), dtype=np.float32)))
    with pytest.raises(ValueError, match=r"positions 3\.\.5"):
        module(Tensor(np.zeros((1, 3, 4), dtype=np.float32)), start=3)
    with pytest.raises(ValueError, match=r"shape \(\.\.\., T, 4\)"):
        module(Tensor(np.zeros((1, 3, 5), dtype=np.float32)))
    with pytest.raises(ValueError, match="start must be a non-negative int"):
        module(Tensor(np.zeros((1, 3, 4), dtype=np.float32)), start=-1)
    with pytest.raises(TypeError, match="input must be a Tensor"):
        module(np.zeros((1, 3, 4)))
    with pytest.raises(ValueError, match="max_len must be >= 1"):
        type(module)(0, 4)


def complex_rotation(x: np.ndarray, start: int, base: float = 10000.0) -> np.ndarray:
    """RoPE as complex multiplication: pair (x[2i], x[2i+1]) is z = x[2i] + i·x[2i+1], times e^{i·t·θ_i}."""
    length, dim = x.shape[-2:]
    z = x[..., 0::2].astype(np.float64) + 1j * x[..., 1::2]
    theta = base ** (-np.arange(dim // 2) * 2.0 / dim)
    z = z * np.exp(1j * np.outer(np.arange(start, start + length), theta))
    out = np.empty(x.shape)
    out[..., 0::2], out[..., 1::2] = z.real, z.imag
    return out


@pytest.mark.parametrize("shape, start", [((5, 4), 0), ((2, 3, 6, 8), 3), ((1, 16, 2), 10)])
def test_rotary_matches_complex_multiplication(shape, start):
    rope = RotaryEmbedding(shape[-1], 32)
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    out = rope(Tensor(x), start=start)
    assert out.shape == shape and out.dtype == np.float32
    np.testing.assert_allclose(out.data, complex_rotation(x, start), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(out.data, axis=-1), np.linalg.norm(x, axis=-1), rtol=1e-5)


def test_rotary_scores_depend_on_offset_only():
    rope = RotaryEmbedding(8, 64, base=100.0)
    rng = np.random.default_rng(2)
    q, k = rng.standard_normal(8), rng.standard_normal(8)
    rq = rope(Tensor(np.tile(q, (64, 1)))).data.astype(np.float64)
    rk = rope(Tensor(np.tile(k, (64, 1)))).data.astype(np.float64)
    scores = rq @ rk.T
    for offset in (-5, 0, 3, 17):
        diagonal = np.diagonal(scores, offset)
        np.testing.assert_allclose(diagonal, diagonal[0], rtol=1e-4, atol=1e-4)
    assert dict(rope.state_dict()) == {} and list(rope.parameters()) == []


@needs_autograd
def test_rotary_gradcheck():
    rope = RotaryEmbedding(6, 10)
    x = Tensor(np.random.default_rng(3).standard_normal((2, 4, 6)), requires_grad=True)
    assert gradcheck(lambda x: rope(x, start=2), (x,))
    out = rope(x)
    assert out.dtype == np.float64


def test_rotary_errors():
    with pytest.raises(ValueError, match="dim must be even"):
        RotaryEmbedding(5, 8)
    rope = RotaryEmbedding(4, 8)
    with pytest.raises(ValueError, match=r"positions 6\.\.8 do not fit in max_len=8"):
        rope(Tensor(np.zeros((3, 4), dtype=np.float32)), start=6)
    with pytest.raises(ValueError, match=r"shape \(\.\.\., T, 4\)"):
        rope(Tensor(np.zeros((3, 6), dtype=np.float32)))
