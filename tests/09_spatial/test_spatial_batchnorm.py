"""Module 09: BatchNorm1d/2d (train/eval, running statistics, buffers, gradients) and Dropout2d."""

from __future__ import annotations

import numpy as np
import pytest

from tinytorch.core.autograd import gradcheck
from tinytorch.core.layers import Sequential
from tinytorch.core.spatial import BatchNorm1d, BatchNorm2d, Conv2d, Dropout2d, batch_norm, dropout2d
from tinytorch.core.tensor import Tensor, manual_seed


def images(seed: int, shape=(6, 3, 4, 5), scale=2.0, shift=1.0, dtype=np.float32) -> Tensor:
    return Tensor((np.random.default_rng(seed).standard_normal(shape) * scale + shift).astype(dtype))


def per_channel(a: np.ndarray) -> np.ndarray:
    """(N, C, ...) -> (C, N*...): every value of each channel in one row."""
    return np.moveaxis(a, 1, 0).reshape(a.shape[1], -1)


def test_training_normalises_with_batch_statistics():
    bn = BatchNorm2d(3)
    bn.weight.data[...] = [2.0, 1.0, 0.5]
    bn.bias.data[...] = [0.0, 1.0, -1.0]
    x = images(0)
    out = per_channel(bn(x).data)
    np.testing.assert_allclose(out.mean(1), [0.0, 1.0, -1.0], atol=1e-5)
    np.testing.assert_allclose(out.std(1), np.array([2.0, 1.0, 0.5]) * np.sqrt(
        per_channel(x.data).var(1) / (per_channel(x.data).var(1) + 1e-5)), rtol=1e-4)


def test_running_statistics_over_two_steps_use_the_unbiased_variance():
    bn = BatchNorm2d(3, momentum=0.3)
    a, b = images(1), images(2, scale=3.0, shift=-2.0)
    bn(a)
    bn(b)
    m, v = np.zeros(3), np.ones(3)
    for batch in (a, b):
        values = per_channel(batch.data).astype(np.float64)
        m = 0.7 * m + 0.3 * values.mean(1)
        v = 0.7 * v + 0.3 * values.var(1, ddof=1)
    np.testing.assert_allclose(bn.running_mean.data, m, rtol=1e-5)
    np.testing.assert_allclose(bn.running_var.data, v, rtol=1e-5)
    assert bn.num_batches_tracked.item() == 2 and bn.num_batches_tracked.dtype == np.int64


def test_momentum_none_is_the_cumulative_average():
    bn = BatchNorm1d(2, momentum=None)
    batches = [Tensor(np.random.default_rng(s).standard_normal((5, 2)).astype(np.float32)) for s in range(3)]
    for batch in batches:
        bn(batch)
    np.testing.assert_allclose(bn.running_mean.data, np.mean([b.data.mean(0) for b in batches], axis=0), rtol=1e-5)
    np.testing.assert_allclose(bn.running_var.data, np.mean([b.data.var(0, ddof=1) for b in batches], axis=0),
                               rtol=1e-5)


def test_eval_uses_running_statistics_and_changes_nothing():
    bn = BatchNorm2d(3)
    bn(images(3))
    bn.eval()
    mean, var = bn.running_mean.data.copy(), bn.running_var.data.copy()
    x = images(4, shape=(1, 3, 2, 2))
    expected = (x.data - mean.reshape(1, 3, 1, 1)) / np.sqrt(var.reshape(1, 3, 1, 1) + 1e-5)
    np.testing.assert_allclose(bn(x).data, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(bn.running_mean.data, mean)
    assert bn.num_batches_tracked.item() == 1
    single = BatchNorm1d(3).eval()
    assert single(Tensor(np.ones((1, 3), dtype=np.float32))).shape == (1, 3), "eval accepts a batch of one"


def test_without_running_statistics_both_modes_use_the_batch():
    bn = BatchNorm2d(2, track_running_stats=False)
    assert bn.running_mean is None and list(bn.state_dict()) == ["weight", "bias"]
    x = images(5, shape=(4, 2, 3, 3))
    train_out = bn(x).data
    np.testing.assert_allclose(bn.eval()(x).data, train_out)


def test_no_affine_has_no_parameters():
    bn = BatchNorm1d(4, affine=False)
    assert list(bn.parameters()) == [] and bn.weight is None
    assert list(bn.state_dict()) == ["running_mean", "running_var", "num_batches_tracked"]


def test_state_dict_round_trip_carries_the_running_statistics():
    model = Sequential(Conv2d(3, 4, 3, padding=1), BatchNorm2d(4))
    model(images(6))
    state = model.state_dict()
    assert list(state) == ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var",
                           "1.num_batches_tracked"]
    fresh = Sequential(Conv2d(3, 4, 3, padding=1), BatchNorm2d(4))
    fresh.load_state_dict(state)
    np.testing.assert_array_equal(fresh[1].running_var.data, model[1].running_var.data)
    assert fresh[1].num_batches_tracked.item() == 1
    x = images(7)
    np.testing.assert_allclose(fresh.eval()(x).data, model.eval()(x).data)
    assert [n for n, _ in model.named_parameters()] == ["0.weight", "0.bias", "1.weight", "1.bias"], (
        "running statistics are buffers, not parameters: the optimizer must not see them")


@pytest.mark.parametrize("cls, shape", [(BatchNorm1d, (5, 3)), (BatchNorm1d, (3, 3, 4)), (BatchNorm2d, (3, 3, 2, 3)),
                                        (BatchNorm2d, (1, 3, 2, 2))])
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_gradcheck(cls, shape, training):
    bn = cls(3, dtype=np.float64)
    bn.weight.data[...] = [1.5, -0.7, 0.3]
    bn.bias.data[...] = [0.1, 0.2, -0.3]
    bn.running_mean.data[...] = [0.5, -0.5, 0.0]
    bn.running_var.data[...] = [2.0, 0.5, 1.0]
    bn.train(training)
    x = Tensor(np.random.default_rng(8).standard_normal(shape), requires_grad=True)
    assert gradcheck(lambda t, w, b: bn(t), (x, bn.weight, bn.bias))


def test_functional_batch_norm_without_affine_or_running_stats():
    x = Tensor(np.random.default_rng(9).standard_normal((4, 2, 3)), requires_grad=True)
    assert gradcheck(lambda t: batch_norm(t, None, None, training=True), (x,))
    with pytest.raises(ValueError, match="running_mean and running_var"):
        batch_norm(x, None, None, training=False)


@pytest.mark.parametrize("cls, shape", [(BatchNorm1d, (1, 4)), (BatchNorm1d, (1, 4, 1)), (BatchNorm2d, (1, 4, 1, 1))])
def test_one_value_per_channel_in_training_is_refused_like_pytorch(cls, shape):
    bn = cls(4)
    with pytest.raises(ValueError) as caught:
        bn(Tensor(np.ones(shape, dtype=np.float32)))
    message = str(caught.value)
    assert cls.__name__ in message and "Expected more than 1 value per channel when training" in message
    assert str(shape) in message
    assert bn.num_batches_tracked.item() == 0 and (bn.running_var.data == 1).all()


@pytest.mark.parametrize("cls, shape, piece", [
    (BatchNorm2d, (2, 4, 3), "expected 4D input (got 3D input"),
    (BatchNorm1d, (2, 4, 3, 3), "expected 2D or 3D input (got 4D input"),
    (BatchNorm2d, (2, 3, 2, 2), "4 channels"),
    (BatchNorm1d, (5, 2), "4 channels"),
])
def test_batch_norm_bad_input(cls, shape, piece):
    with pytest.raises(ValueError) as caught:
        cls(4)(Tensor(np.ones(shape, dtype=np.float32)))
    assert cls.__name__ in str(caught.value) and piece in str(caught.value) and str(shape) in str(caught.value)


def test_batch_norm_repr_and_constructor_checks():
    assert repr(BatchNorm2d(3)) == "BatchNorm2d(3, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)"
    assert repr(BatchNorm1d(8, momentum=None, affine=False)) == (
        "BatchNorm1d(8, eps=1e-05, momentum=None, affine=False, track_running_stats=True)")
    with pytest.raises(ValueError, match="num_features"):
        BatchNorm2d(0)
    with pytest.raises(TypeError, match="dtype"):
        BatchNorm2d(2)(Tensor(np.ones((2, 2, 2, 2))))


def test_reset_running_stats():
    bn = BatchNorm1d(2)
    bn(Tensor(np.random.default_rng(0).standard_normal((4, 2)).astype(np.float32)))
    bn.reset_running_stats()
    assert (bn.running_mean.data == 0).all() and (bn.running_var.data == 1).all()
    assert bn.num_batches_tracked.item() == 0


# ----- Dropout2d --------------------------------------------------------------------------------------
def test_dropout2d_drops_whole_channels_with_the_right_rate():
    manual_seed(1)
    x = Tensor(np.ones((64, 50, 2, 3), dtype=np.float32), requires_grad=True)
    out = Dropout2d(0.4)(x)
    values = out.data.reshape(64, 50, 6)
    assert (values.min(-1) == values.max(-1)).all()
    kept = values[:, :, 0] > 0
    assert abs(kept.mean() - 0.6) < 0.03
    np.testing.assert_allclose(values[kept], 1 / 0.6, rtol=1e-6)
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.data, out.data)


def test_dropout2d_eval_and_edge_probabilities():
    x = Tensor(np.ones((2, 3, 2, 2), dtype=np.float32))
    assert Dropout2d(0.3).eval()(x) is x
    assert dropout2d(x, 0.0) is x and dropout2d(x, 0.5, training=False) is x
    assert dropout2d(x, 1.0).data.max() == 0
    assert repr(Dropout2d(0.2)) == "Dropout2d(p=0.2)"
    with pytest.raises(ValueError):
        Dropout2d(1.5)
    with pytest.raises(ValueError, match="4-D"):
        dropout2d(Tensor(np.ones((2, 3), dtype=np.float32)))
