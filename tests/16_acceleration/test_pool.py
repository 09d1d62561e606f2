"""Module 16's thread pool (choice 8): in_parallel really runs tasks at once and reports their
errors, parallel_matmul is np.matmul, module 01's matmul_arrays goes through it, and a conv or a
max pool split over 1, 2 or 3 threads gives one thread's answer."""

from __future__ import annotations

import multiprocessing
import threading

import numpy as np
import pytest

import tinytorch as tt
from tinytorch.core import spatial, tensor
from tinytorch.systems import acceleration
from tinytorch.systems.acceleration import (
    SPLIT_FROM_MULTIPLY_ADDS,
    even_parts,
    get_num_threads,
    in_parallel,
    parallel_matmul,
    set_num_threads,
)

rng = np.random.default_rng(0)


@pytest.fixture
def threads():
    """Set the pool's size for one test, and put it back afterwards."""
    before = get_num_threads()
    yield set_num_threads
    set_num_threads(before)


def test_in_parallel_runs_its_tasks_at_the_same_time_and_keeps_their_order(threads):
    threads(3)
    meet = threading.Barrier(3, timeout=10)  # passes only if all three tasks run at once

    def task(value):
        return lambda: (meet.wait(), value)[1]
    assert in_parallel([task(value) for value in "abc"]) == ["a", "b", "c"]


def test_in_parallel_waits_for_every_task_then_raises_the_first_error(threads):
    threads(2)
    finished = []

    def slow():
        threading.Event().wait(0.2)
        finished.append("slow")

    def broken():
        raise KeyError("the first task's error")
    with pytest.raises(KeyError, match="the first task's error"):
        in_parallel([broken, slow])
    assert finished == ["slow"], "in_parallel returned before its other task had finished"


def test_in_parallel_inside_a_task_runs_one_after_another_instead_of_waiting_forever(threads):
    threads(2)
    inner = lambda: in_parallel([lambda: 1, lambda: 2])  # noqa: E731
    assert in_parallel([inner, inner]) == [[1, 2], [1, 2]]


@pytest.mark.parametrize("n, parts", [(10, 3), (2, 5), (1, 1), (64, 2), (7, 7)])
def test_even_parts_cover_the_range_in_pieces_within_one_of_each_other(n, parts):
    pieces = even_parts(n, parts)
    assert [i for start, stop in pieces for i in range(start, stop)] == list(range(n))
    sizes = [stop - start for start, stop in pieces]
    assert len(pieces) == min(n, parts) and max(sizes) - min(sizes) <= 1


@pytest.mark.parametrize("count", [1, 2, 3])
@pytest.mark.parametrize("size", [0, 5, acceleration.BLOCK, 3 * acceleration.BLOCK + 7])
def test_split_blocks_hands_every_block_to_one_thread_exactly_once(size, count, threads):
    threads(count)
    seen, lock = [], threading.Lock()

    def work(part):
        with lock:
            seen.append((part.start, part.stop))
    acceleration.split_blocks(size, work)
    assert sorted(i for start, stop in seen for i in range(start, stop)) == list(range(size))
    assert all(stop - start <= acceleration.BLOCK for start, stop in seen)


def test_fused_gelu_split_over_the_pool_is_one_threads_answer_bit_for_bit(threads):
    x = tt.tensor(rng.standard_normal(5 * acceleration.BLOCK + 3).astype(np.float32))
    results = []
    for count in (1, 3):
        threads(count)
        results.append(acceleration.fused_gelu(x).data)
    np.testing.assert_array_equal(results[1], results[0])


SHAPES = [((768, 128), (128, 384)),          # more rows: rows split
          ((3, 2048), (2048, 4096)),         # few rows: columns split
          ((12, 64, 128), (128, 384)),       # a Linear on (batch, time, features): one tall matrix
          ((12, 4, 64, 64), (12, 4, 64, 128)),  # batched: one np.matmul
          ((3, 1, 200, 300), (5, 300, 100)),   # batch axes broadcast: one np.matmul
          ((4096, 64), (64, 256)),
          ((1, 32, 288), (1, 288, 8192))]     # one group of module 09's conv: the 2-D split


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("a_shape, b_shape", SHAPES)
def test_parallel_matmul_is_np_matmul(a_shape, b_shape, dtype, threads):
    threads(3)
    a, b = rng.standard_normal(a_shape).astype(dtype), rng.standard_normal(b_shape).astype(dtype)
    (m, k), n = a.shape[-2:], b.shape[-1]
    multiply_adds = np.prod(np.broadcast_shapes(a.shape[:-2], b.shape[:-2])) * m * k * n
    assert multiply_adds >= SPLIT_FROM_MULTIPLY_ADDS, "the shapes here are meant to be split"
    expected = np.matmul(a, b)
    close = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)  # sums reordered
    np.testing.assert_allclose(parallel_matmul(a, b), expected, **close)
    out = np.full(expected.shape, np.nan, dtype=dtype)
    assert parallel_matmul(a, b, out) is out
    np.testing.assert_allclose(out, expected, **close)
    if b.ndim == 2:  # a weight.T view: columns contiguous, BLAS reads it transposed
        np.testing.assert_allclose(parallel_matmul(a, np.ascontiguousarray(b.T).T), expected, **close)


def test_parallel_matmul_leaves_every_other_case_to_np_matmul(threads):
    threads(2)
    a = rng.standard_normal((300, 300)).astype(np.float32)
    np.testing.assert_allclose(parallel_matmul(a, a[0]), a @ a[0], rtol=1e-5)             # 1-D operand
    np.testing.assert_array_equal(parallel_matmul(a.astype(np.int64), a.astype(np.int64)),
                                  a.astype(np.int64) @ a.astype(np.int64))                 # integers
    np.testing.assert_allclose(parallel_matmul(a, a.astype(np.float64)), a @ a.astype(np.float64))  # mixed
    with pytest.raises(ValueError, match="matmul"):                                        # NumPy's own error
        parallel_matmul(a, a[:5])
    square = rng.standard_normal((600, 600))
    expected = square @ square
    parallel_matmul(square, square, out=square)  # out is an operand: NumPy buffers it
    np.testing.assert_allclose(square, expected, rtol=1e-10)


def test_module_01s_matmul_arrays_goes_through_the_installed_kernel():
    seen = []

    def recording(a, b, out):
        seen.append((a.shape, b.shape))
        return parallel_matmul(a, b, out)
    try:
        tensor.install_matmul_kernel(recording)
        x = tt.tensor(rng.standard_normal((4, 3)), requires_grad=True)
        (x @ tt.tensor(rng.standard_normal((3, 2)))).sum().backward()
    finally:
        tensor.install_matmul_kernel(parallel_matmul)
    assert ((4, 3), (3, 2)) in seen and len(seen) >= 2, f"forward and backward should both use it, saw {seen}"
    with pytest.raises(TypeError, match="install_matmul_kernel: kernel must be callable or None, got int"):
        tensor.install_matmul_kernel(3)


def _conv_step(x, w, b, padding):
    xt, wt, bt = (tt.tensor(v, requires_grad=True) for v in (x, w, b))
    y = spatial.conv2d(xt, wt, bt, padding=padding)
    y.backward(tt.tensor(np.cos(y.data)))
    return y.data, xt.grad.data, wt.grad.data, bt.grad.data


@pytest.mark.parametrize("channels, out_channels, size, batch, padding",
                         [(3, 8, 12, 5, 1), (16, 16, 9, 3, 1), (16, 8, 10, 1, 0), (4, 4, 7, 4, (2, 1))])
def test_a_conv_split_over_the_pool_gives_one_threads_answer(channels, out_channels, size, batch, padding, threads):
    x = rng.standard_normal((batch, channels, size, size)).astype(np.float32)
    w = rng.standard_normal((out_channels, channels, 3, 3)).astype(np.float32)
    b = rng.standard_normal(out_channels).astype(np.float32)
    threads(1)
    alone = _conv_step(x, w, b, padding)
    for count in (2, 3):
        threads(count)
        split = _conv_step(x, w, b, padding)
        for name, one, many in zip(("y", "dL/dx", "dL/dW", "dL/dbias"), alone, split):
            # y and dL/dx are the same additions in the same order; dL/dW and dL/dbias add the parts' sums
            np.testing.assert_allclose(many, one, rtol=1e-5, atol=1e-4, err_msg=f"{name} with {count} threads")


def test_a_max_pool_split_over_the_pool_gives_one_threads_answer(threads):
    x = rng.standard_normal((5, 3, 8, 8)).astype(np.float32)
    results = []
    for count in (1, 3):
        threads(count)
        xt = tt.tensor(x, requires_grad=True)
        y = spatial.max_pool2d(xt, 2)
        y.backward(tt.tensor(np.arange(y.data.size, dtype=np.float32).reshape(y.shape)))
        results.append((y.data, xt.grad.data))
    for one, many in zip(*results):
        np.testing.assert_array_equal(many, one)


def _product_in_child(queue):
    a = np.ones((512, 512), dtype=np.float32)
    queue.put(float(parallel_matmul(a, a)[0, 0]))


def test_a_forked_child_gets_a_pool_of_its_own(threads):
    threads(2)
    parallel_matmul(np.ones((512, 512), np.float32), np.ones((512, 512), np.float32))  # the parent's pool exists
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_product_in_child, args=(queue,))
    child.start()
    child.join(timeout=60)
    assert child.exitcode == 0 and queue.get(timeout=5) == 512.0, "the child hung or failed on the parent's pool"


def test_the_pool_is_this_modules_own():
    assert acceleration.parallel_matmul is tensor._matmul_kernel, "importing module 16 installs parallel_matmul"


def test_a_learners_kernel_that_ignores_out_still_splits_correctly(threads, monkeypatch):
    """shifted_conv_forward/backward written without the out= / grad_input= arguments (returning new arrays)."""
    forward, backward = acceleration.shifted_conv_forward, acceleration.shifted_conv_backward
    monkeypatch.setattr(acceleration, "shifted_conv_forward", lambda *a, out=None: forward(*a))
    monkeypatch.setattr(acceleration, "shifted_conv_backward", lambda *a, grad_input=None: backward(*a))
    x, w, b = (rng.standard_normal(shape).astype(np.float32) for shape in ((4, 3, 6, 6), (5, 3, 3, 3), (5,)))
    threads(1)
    alone = _conv_step(x, w, b, 1)
    threads(2)
    for one, many in zip(alone, _conv_step(x, w, b, 1)):
        np.testing.assert_allclose(many, one, rtol=1e-5, atol=1e-5)


def test_in_parallel_of_nothing_is_nothing():
    assert in_parallel([]) == []


def test_two_threads_may_use_the_pool_at_once_while_it_grows(threads):
    threads(2)
    errors, results = [], []

    def user(count):
        try:
            for _ in range(20):
                results.append(sum(in_parallel([lambda: 1] * count)))
        except Exception as error:  # noqa: BLE001 - the test reports whatever went wrong
            errors.append(error)
    users = [threading.Thread(target=user, args=(count,)) for count in (2, 5, 3)]
    for thread in users:
        thread.start()
    for thread in users:
        thread.join(timeout=30)
    assert not errors and sorted(set(results)) == [2, 3, 5]
