"""Module 16's set_num_threads / get_num_threads (torch's names) size TinyTorch's own thread pool,
which owns the cores: OpenBLAS is kept at one thread per product; bad values get a clear message;
tinytorch.* has the names too."""

from __future__ import annotations

import numpy as np
import pytest

import tinytorch
from tinytorch.systems import acceleration
from tinytorch.systems.acceleration import get_num_threads, openblas_threads, set_num_threads

needs_blas_control = pytest.mark.skipif(acceleration._set_blas_threads is None,
                                        reason="no openblas_set_num_threads in this process's BLAS")


@pytest.fixture
def restore_threads():
    before = get_num_threads()
    yield
    set_num_threads(before)


@needs_blas_control
def test_the_pool_owns_the_cores_and_openblas_stays_at_one_thread(restore_threads):
    for count in (1, 2, 3):
        set_num_threads(count)
        assert get_num_threads() == count
        assert int(acceleration._get_blas_threads()) == 1, "OpenBLAS must not thread beside the pool"
    a = np.random.default_rng(0).standard_normal((64, 64))
    np.testing.assert_allclose(a @ a.T, (a @ a.T).T)  # BLAS still works after the change


@needs_blas_control
def test_openblas_threads_lends_the_cores_back_only_inside_its_block():
    with openblas_threads(2):
        assert int(acceleration._get_blas_threads()) == 2
    assert int(acceleration._get_blas_threads()) == 1
    with pytest.raises(RuntimeError, match="inside"):
        with openblas_threads(2):
            raise RuntimeError("inside")
    assert int(acceleration._get_blas_threads()) == 1


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True, None])
def test_set_num_threads_rejects_bad_values(bad, restore_threads):
    with pytest.raises(ValueError, match=r"set_num_threads: n must be an int >= 1, got"):
        set_num_threads(bad)


def test_torch_names_at_the_top_level(restore_threads):
    tinytorch.set_num_threads(1)
    assert tinytorch.get_num_threads() == 1 == get_num_threads()
    with pytest.raises(AttributeError, match="has no attribute 'set_num_thread'"):
        tinytorch.set_num_thread  # a typo is still an AttributeError
