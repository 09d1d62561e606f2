"""Can I build tensors that broadcast?"""

import numpy as np

REQUIRES = ["01_tensor"]


def test_tensors_hold_float32_and_broadcast_like_numpy():
    from tinytorch.core.tensor import Tensor

    column, row = [[0.0], [1.0], [2.0]], [[0.0, 1.0, 2.0, 3.0]]
    out = Tensor(column) * Tensor(row) + 1.0
    assert out.shape == (3, 4), f"(3, 1) * (1, 4) should broadcast to (3, 4), got {out.shape}"
    assert out.dtype == np.float32, f"Python float lists become float32 tensors, got {out.dtype}"
    column, row = np.array(column), np.array(row)
    np.testing.assert_allclose(out.data, column * row + 1, err_msg="broadcast values differ from NumPy's")


def test_reductions_and_matmul_agree_with_numpy():
    from tinytorch.core.tensor import Tensor

    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((5, 3)).astype(np.float32), rng.standard_normal((3, 2)).astype(np.float32)
    np.testing.assert_allclose((Tensor(a) @ Tensor(b)).data, a @ b, rtol=1e-5, err_msg="matmul is wrong")
    np.testing.assert_allclose(Tensor(a).sum(0).data, a.sum(0), rtol=1e-5, err_msg="sum(dim=0) is wrong")
