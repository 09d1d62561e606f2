"""Module 01's PyTorch conveniences beyond what a value fixture shows: devices, recorded casts, copies
and views, sampling with the seeded generator, NumPy memory sharing, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from support import needs_autograd

import tinytorch.core.tensor as tt
from tinytorch.core.tensor import CPU, Tensor, check_device, device


def x23() -> Tensor:
    return Tensor(np.arange(6, dtype=np.float32).reshape(2, 3))


# ----- devices -------------------------------------------------------------------------------
def test_device_objects_read_like_pytorchs():
    assert repr(device("cpu")) == "device(type='cpu')" and str(device("cuda:1")) == "cuda:1"
    assert device("cuda", 0) == device("cuda:0") and device("cpu") != device("cuda")
    assert device(device("mps")).type == "mps" and {device("cpu"), CPU} == {CPU}
    assert x23().device == CPU and x23().is_cuda is False


@pytest.mark.parametrize("where", ["cpu", "cpu:0", device("cpu"), None, CPU])
def test_cpu_is_a_no_op(where):
    x = x23()
    assert check_device(where, "test").type == "cpu" and x.to(where) is x and x.cpu() is x


@pytest.mark.parametrize("where", ["cuda", "cuda:0", "mps", device("cuda", 1), 0])
def test_other_devices_say_tinytorch_runs_on_the_cpu(where):
    with pytest.raises(RuntimeError, match=r"to: TinyTorch runs on the CPU only.*is_available\(\) is False"):
        x23().to(where)


@pytest.mark.parametrize("bad, error, message", [
    ("gpu", ValueError, r"device: unknown device type 'gpu'"),
    ("cuda:x", ValueError, r"device: invalid device string 'cuda:x'"),
    (3.5, TypeError, r"device: expected a device name"),
])
def test_bad_device_names(bad, error, message):
    with pytest.raises(error, match=message):
        device(bad)
    with pytest.raises(error, match="check: " + message):
        check_device(bad, "check")


def test_to_accepts_pytorchs_argument_forms():
    x = x23()
    assert x.to(tt.float64).dtype == np.float64 and x.to("float16").dtype == np.float16
    assert x.to("cpu", tt.int64).dtype == np.int64 and x.to(device="cpu", dtype=tt.float64).dtype == np.float64
    assert x.to(Tensor([1])).dtype == np.int64 and x.to(tt.float32) is x
    copied = x.to("cpu", copy=True)
    assert copied is not x and not np.shares_memory(copied.data, x.data)
    with pytest.raises(TypeError, match=r"to: unexpected argument"):
        x.to(tt.float64, tt.float32)


# ----- recorded casts and copies ---------------------------------------------------------------
@needs_autograd
def test_a_cast_keeps_the_gradient_flowing_in_the_leafs_dtype():
    from tinytorch.core.autograd import backward

    w = Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    backward((w.double() * w.half().double()).sum())
    assert w.grad.dtype == np.float32
    np.testing.assert_allclose(w.grad.data, 2 * w.data, rtol=1e-3)


def test_integer_and_bool_casts_are_new_leaves():
    w = Tensor(np.array([1.7, -2.2], dtype=np.float32), requires_grad=True)
    for cast in (w.long(), w.int(), w.bool()):
        assert cast._ctx is None and not cast.requires_grad
    assert w.long().tolist() == [1, -2] and w.int().dtype == np.int32 and w.bool().tolist() == [True, True]


def test_clone_keeps_the_layout_and_is_recorded():
    x = Tensor(np.ones((3, 4), dtype=np.float32), requires_grad=True)
    c = x.T.clone()
    assert c.stride() == (1, 4) and not np.shares_memory(c.data, x.data) and c._ctx.op == "clone"


def test_t_and_mT():
    assert x23().t().shape == (3, 2) and Tensor([1.0, 2.0]).t().shape == (2,)
    x = x23()
    assert tt.zeros(2, 3, 4).mT.shape == (2, 4, 3) and np.shares_memory(x.mT.data, x.data)
    with pytest.raises(ValueError, match=r"t: expects a tensor with at most 2 dimensions.*mT"):
        tt.zeros(2, 3, 4).t()
    with pytest.raises(ValueError, match=r"mT: needs at least 2 dimensions"):
        Tensor([1.0]).mT


def test_new_tensors_take_the_dtype_of_their_source():
    d = Tensor(np.zeros(2))
    assert d.new_zeros(3).dtype == np.float64 and d.new_ones(2, 2).shape == (2, 2)
    assert d.new_full((2,), 7).tolist() == [7.0, 7.0] and d.new_tensor([1, 2]).dtype == np.float64
    assert d.new_zeros(3, dtype=tt.int64).dtype == np.int64


@pytest.mark.parametrize("sizes", [(2, 1), (1, 3), (2, 2, 2), (3, 1, 1)])
def test_repeat_is_numpys_tile(sizes):
    x = x23()
    np.testing.assert_array_equal(x.repeat(*sizes).data, np.tile(x.data, sizes))


def test_repeat_bad_sizes():
    with pytest.raises(ValueError, match=r"repeat: needs at least one size per dimension \(2\)"):
        x23().repeat(2)
    with pytest.raises(ValueError, match=r"repeat: sizes must be non-negative"):
        x23().repeat(2, -1)


def test_all_any_with_dims():
    b = Tensor([[True, False], [True, True]])
    assert b.all(dim=1).tolist() == [False, True] and b.any(0).tolist() == [True, True]
    assert b.all(dim=(0, 1)).item() is False and b.any(dim=1, keepdim=True).shape == (2, 1)
    with pytest.raises(IndexError, match=r"all: dim 2 is out of range"):
        b.all(dim=2)


# ----- selections and sorting ------------------------------------------------------------------
def test_sort_and_topk_agree_with_numpy_on_random_data():
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((4, 7)).astype(np.float32))
    values, indices = x.sort(dim=1, descending=True)
    np.testing.assert_array_equal(values.data, -np.sort(-x.data, axis=1))
    np.testing.assert_array_equal(np.take_along_axis(x.data, indices.data, 1), values.data)
    top = x.topk(3, dim=0, largest=False)
    np.testing.assert_array_equal(top.values.data, np.sort(x.data, axis=0)[:3])
    assert x.topk(0).values.shape == (4, 0) and x.argsort().dtype == np.int64


@needs_autograd
def test_gather_with_repeated_indices_adds_gradients():
    from tinytorch.core.autograd import backward

    x = Tensor(np.array([[1.0, 2.0, 3.0]]), requires_grad=True)
    backward(x.gather(1, Tensor([[2, 2, 0, 2]])).sum())
    np.testing.assert_array_equal(x.grad.data, [[1, 0, 3]])


@pytest.mark.parametrize("call, error, message", [
    (lambda: x23().gather(1, Tensor([[0.5]])), TypeError, r"gather: index must be an integer Tensor"),
    (lambda: x23().gather(1, Tensor([0, 1])), ValueError, r"gather: index must have as many dimensions"),
    (lambda: x23().gather(1, Tensor([[0], [1], [2]])), ValueError, r"gather: index shape \(3, 1\) is larger"),
    (lambda: x23().gather(1, Tensor([[3]])), IndexError, r"gather: index values must lie in \[-3, 2\]"),
    (lambda: x23().topk(4), ValueError, r"topk: k must be an int in \[0, 3\]"),
    (lambda: x23().sort(dim=2), IndexError, r"sort: dim 2 is out of range"),
    (lambda: tt.maximum(x23(), "a"), TypeError, r"maximum: cannot combine"),
    (lambda: tt.minimum(x23(), tt.ones(2)), ValueError, r"minimum: shapes .* cannot be broadcast"),
])
def test_selection_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


# ----- sampling and NumPy ----------------------------------------------------------------------
def test_randint_forms():
    tt.manual_seed(0)
    assert tt.randint(5, (3,)).shape == (3,) and tt.randint(2, 4, (2, 2)).shape == (2, 2)
    assert tt.randint(3, size=(4,)).dtype == np.int64 and tt.randint(0, 2, (3,), dtype=tt.int32).dtype == np.int32
    values = tt.randint(-3, 3, (2000,)).data
    assert values.min() == -3 and values.max() == 2


def test_randperm_and_generators():
    g = np.random.default_rng(5)
    assert sorted(tt.randperm(10, generator=g).tolist()) == list(range(10))
    assert tt.randperm(0).shape == (0,)
    assert tt.randint(10, (5,), generator=np.random.default_rng(1)).tolist() == \
        tt.randint(10, (5,), generator=np.random.default_rng(1)).tolist()


def test_multinomial_distribution_and_shapes():
    tt.manual_seed(0)
    weights = Tensor(np.array([[1.0, 0.0, 3.0], [0.0, 5.0, 5.0]], dtype=np.float32))
    draws = tt.multinomial(weights, 4000, replacement=True).data
    assert draws.shape == (2, 4000) and draws.dtype == np.int64
    assert abs((draws[0] == 2).mean() - 0.75) < 0.03 and not (draws[0] == 1).any() and not (draws[1] == 0).any()
    without = tt.multinomial(weights, 2).data
    assert without.shape == (2, 2) and set(without[0]) == {0, 2} and set(without[1]) == {1, 2}
    first = tt.multinomial(Tensor(np.array([1.0, 100.0, 1.0])), 1, generator=np.random.default_rng(3))
    assert first.shape == (1,)
    order = np.array([tt.multinomial(Tensor(np.array([1.0, 2.0, 4.0])), 3).tolist() for _ in range(2000)])
    assert abs((order[:, 0] == 2).mean() - 4 / 7) < 0.04, "the first draw follows the weights"


@pytest.mark.parametrize("call, message", [
    (lambda: tt.multinomial(Tensor([1.0, -1.0]), 1), r"multinomial: weights must be finite and non-negative"),
    (lambda: tt.multinomial(Tensor([0.0, 0.0]), 1), r"multinomial: every row of weights must have a positive sum"),
    (lambda: tt.multinomial(Tensor([1.0, 1.0]), 3), r"multinomial: num_samples must be in \[1, 2\]"),
    (lambda: tt.multinomial(Tensor([1, 2]), 1), r"multinomial: input must be a 1-D or 2-D floating-point"),
    (lambda: tt.randint(5, 3, (2,)), r"randint: high \(3\) must be larger than low \(5\)"),
    (lambda: tt.randperm(-1), r"randperm: n must be non-negative"),
])
def test_sampling_value_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_sampling_type_errors():
    with pytest.raises(TypeError, match=r"randint: expected randint\(high, size\)"):
        tt.randint(5)
    with pytest.raises(TypeError, match=r"randint: high must be an int"):
        tt.randint(2.5, (2,))
    with pytest.raises(TypeError, match=r"multinomial: generator must be a numpy.random.Generator"):
        tt.multinomial(Tensor([1.0]), 1, generator=3)
    with pytest.raises(TypeError, match=r"rand_like: random samples need a floating-point dtype"):
        tt.rand_like(Tensor([1, 2]))


def test_from_numpy_shares_and_as_tensor_copies_only_when_it_must():
    array = np.zeros(3, dtype=np.float64)
    t = tt.from_numpy(array)
    t.add_(1.0)
    assert array.tolist() == [1.0, 1.0, 1.0] and t.dtype == np.float64
    assert tt.as_tensor(array).data is array and tt.as_tensor(t) is t
    assert not np.shares_memory(tt.as_tensor(array, dtype=tt.float32).data, array)
    assert tt.as_tensor([1.0, 2.0]).dtype == np.float32
