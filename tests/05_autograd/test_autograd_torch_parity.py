"""TinyTorch's forward values and gradients against PyTorch's, case by case.

tests/fixtures/torch_ops.npz was written by scripts/make_torch_fixtures.py with torch (which
these tests never import). Each case there has inputs, the forward value, a gradient `gout`
for the output and the resulting input gradients; TINYTORCH below computes the same thing
with TinyTorch, by case name. Everything is float64, so the tolerances are tight.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest
from support import FIXTURES, load_torch_cases

from tinytorch.core import activations as A
from tinytorch.core.autograd import backward
from tinytorch.core.tensor import Tensor, cat, stack

RTOL, ATOL = 1e-6, 1e-9


CASES = load_torch_cases("torch_ops.npz")


def F():
    """Module 04's losses (imported when a loss case runs)."""
    return importlib.import_module("tinytorch.core.losses")


TINYTORCH = {
    # arithmetic
    "add_broadcast": lambda a, b: a + b,
    "add_scalar": lambda a: a + 2.5,
    "sub_broadcast": lambda a, b: a - b,
    "rsub_scalar": lambda a: 1.0 - a,
    "mul_broadcast": lambda a, b: a * b,
    "mul_same_tensor": lambda a: a * a,
    "div_broadcast": lambda a, b: a / b,
    "rdiv_scalar": lambda a: 3.0 / a,
    "neg": lambda a: -a,
    "pow_scalar": lambda a: a ** 3,
    "pow_half": lambda a: a ** 0.5,
    "pow_zero_exponent": lambda a: a ** 0,
    "pow_tensor": lambda a, b: a ** b,
    "rpow_scalar_base": lambda a: 2.0 ** a,
    "matmul_2d": lambda a, b: a @ b,
    "matmul_batched_broadcast": lambda a, b: a @ b,
    "matmul_3d_2d": lambda a, b: a @ b,
    "matmul_1d_left": lambda a, b: a @ b,
    "matmul_1d_right": lambda a, b: a @ b,
    "matmul_dot": lambda a, b: a @ b,
    # reductions
    "sum_all": lambda a: a.sum(),
    "sum_dims": lambda a: a.sum(dim=(0, 2)),
    "sum_keepdim": lambda a: a.sum(dim=1, keepdim=True),
    "sum_negative_dim": lambda a: a.sum(dim=-1),
    "mean_all": lambda a: a.mean(),
    "mean_dim_keepdim": lambda a: a.mean(dim=(0, 1), keepdim=True),
    "max_all_ties": lambda a: a.max(),
    "min_all_ties": lambda a: a.min(),
    "max_dim": lambda a: a.max(dim=1),
    "max_dim_keepdim": lambda a: a.max(dim=0, keepdim=True),
    "min_dim": lambda a: a.min(dim=0),
    "min_dim_negative": lambda a: a.min(dim=-1),
    "var_all": lambda a: a.var(),
    "var_dim_correction0": lambda a: a.var(dim=1, correction=0),
    "var_dims_keepdim": lambda a: a.var(dim=(0, 2), keepdim=True),
    "std_dim": lambda a: a.std(dim=0),
    "std_all": lambda a: a.std(),
    # elementwise
    "exp": lambda a: a.exp(),
    "log": lambda a: a.log(),
    "sqrt": lambda a: a.sqrt(),
    "abs_with_zero": lambda a: a.abs(),
    "clamp_both_at_bounds": lambda a: a.clamp(-0.5, 0.5),
    "clamp_min": lambda a: a.clamp(min=0.0),
    "clamp_max": lambda a: a.clamp(max=0.5),
    # shape
    "reshape": lambda a: a.reshape(3, 4),
    "view_infer": lambda a: a.view(-1, 4),
    "flatten": lambda a: a.flatten(1),
    "squeeze": lambda a: a.squeeze(1),
    "unsqueeze": lambda a: a.unsqueeze(1),
    "permute": lambda a: a.permute(2, 0, 1),
    "transpose": lambda a: a.transpose(0, 2),
    "matrix_T": lambda a: a.T,
    "expand": lambda a: a.expand(2, 3, 4),
    "cat_dim1": lambda a, b, c: cat([a, b, c], dim=1),
    "cat_dim0": lambda a, b: cat([a, b], dim=0),
    "stack_dim0": lambda a, b: stack([a, b], dim=0),
    "stack_dim_last": lambda a, b, c: stack([a, b, c], dim=-1),
    "getitem_slice": lambda a: a[1:, ::2],
    "getitem_int": lambda a: a[1],
    "getitem_negative_int_and_slice": lambda a: a[-1, 1:3],
    "getitem_repeated_rows": lambda a: a[[0, 2, 0, 0]],
    "getitem_pairs_repeated": lambda a: a[[0, 1, 1, 0], [2, 0, 0, 2]],
    "getitem_columns_repeated": lambda a: a[:, [1, 1, 3]],
    "getitem_bool_mask": lambda a: a[a > 0],
    # activations (module 02)
    "relu": A.relu,
    "leaky_relu_default": A.leaky_relu,
    "leaky_relu_0.2": lambda a: A.leaky_relu(a, 0.2),
    "sigmoid": A.sigmoid,
    "sigmoid_extreme": A.sigmoid,
    "tanh": A.tanh,
    "gelu_exact": A.gelu,
    "gelu_tanh": lambda a: A.gelu(a, approximate="tanh"),
    "silu": A.silu,
    "softmax_dim1": lambda a: A.softmax(a, dim=1),
    "softmax_dim0": lambda a: A.softmax(a, dim=0),
    "softmax_3d_dim1": lambda a: A.softmax(a, dim=1),
    "log_softmax_last": lambda a: A.log_softmax(a, dim=-1),
    "log_softmax_3d_dim1": lambda a: A.log_softmax(a, dim=1),
    # losses (module 04)
    "cross_entropy_mean": lambda x, t: F().cross_entropy(x, t),
    "cross_entropy_sum": lambda x, t: F().cross_entropy(x, t, reduction="sum"),
    "cross_entropy_none": lambda x, t: F().cross_entropy(x, t, reduction="none"),
    "cross_entropy_weight_mean": lambda x, t, w: F().cross_entropy(x, t, weight=w),
    "cross_entropy_weight_sum": lambda x, t, w: F().cross_entropy(x, t, weight=w, reduction="sum"),
    "cross_entropy_weight_none": lambda x, t, w: F().cross_entropy(x, t, weight=w, reduction="none"),
    "cross_entropy_ignore_default": lambda x, t: F().cross_entropy(x, t),
    "cross_entropy_ignore_index_1": lambda x, t: F().cross_entropy(x, t, ignore_index=1),
    "cross_entropy_ignore_weight": lambda x, t, w: F().cross_entropy(x, t, weight=w),
    "cross_entropy_smoothing": lambda x, t: F().cross_entropy(x, t, label_smoothing=0.1),
    "cross_entropy_smoothing_sum": lambda x, t: F().cross_entropy(
        x, t, label_smoothing=0.2, reduction="sum"),
    "cross_entropy_smoothing_none": lambda x, t: F().cross_entropy(
        x, t, label_smoothing=0.2, reduction="none"),
    "cross_entropy_smoothing_weight": lambda x, t, w: F().cross_entropy(
        x, t, weight=w, label_smoothing=0.1),
    "cross_entropy_smoothing_ignore": lambda x, t: F().cross_entropy(x, t, label_smoothing=0.1),
    "cross_entropy_smoothing_ignore_weight": lambda x, t, w: F().cross_entropy(
        x, t, weight=w, label_smoothing=0.3, ignore_index=-100),
    "cross_entropy_spatial": lambda x, t: F().cross_entropy(x, t),
    "cross_entropy_single_sample": lambda x, t: F().cross_entropy(x, t),
    "nll_loss_mean": lambda x, t: F().nll_loss(x, t),
    "nll_loss_weight_ignore": lambda x, t, w: F().nll_loss(x, t, weight=w),
    "nll_loss_none": lambda x, t: F().nll_loss(x, t, reduction="none"),
    "bce_mean": lambda p, y: F().binary_cross_entropy(p, y),
    "bce_sum_soft_targets": lambda p, y: F().binary_cross_entropy(p, y, reduction="sum"),
    "bce_none_weight": lambda p, y, w: F().binary_cross_entropy(p, y, weight=w, reduction="none"),
    "bce_weight_mean": lambda p, y, w: F().binary_cross_entropy(p, y, weight=w),
    "bce_clamped_logs": lambda p, y: F().binary_cross_entropy(p, y, reduction="sum"),
    "bce_logits_mean": lambda z, y: F().binary_cross_entropy_with_logits(z, y),
    "bce_logits_soft_targets_grad": lambda z, y: F().binary_cross_entropy_with_logits(
        z, y, reduction="sum"),
    "bce_logits_weight_none": lambda z, y, w: F().binary_cross_entropy_with_logits(
        z, y, weight=w, reduction="none"),
    "bce_logits_pos_weight": lambda z, y, q: F().binary_cross_entropy_with_logits(z, y, pos_weight=q),
    "bce_logits_weight_pos_weight": lambda z, y, w, q: F().binary_cross_entropy_with_logits(
        z, y, weight=w, pos_weight=q),
    "bce_logits_extreme": lambda z, y: F().binary_cross_entropy_with_logits(z, y, reduction="sum"),
    "mse_mean": lambda a, b: F().mse_loss(a, b),
    "mse_sum": lambda a, b: F().mse_loss(a, b, reduction="sum"),
}


def test_the_fixture_file_is_small_and_every_case_has_a_tinytorch_side():
    assert (FIXTURES / "torch_ops.npz").stat().st_size < 300_000
    assert set(CASES) == set(TINYTORCH), (
        f"only in the fixtures: {sorted(set(CASES) - set(TINYTORCH))}; "
        f"only here: {sorted(set(TINYTORCH) - set(CASES))}. Regenerate the fixtures with "
        "scripts/make_torch_fixtures.py or add the TinyTorch side here.")


@pytest.mark.parametrize("name", sorted(CASES))
def test_forward_and_backward_match_pytorch(name):
    case = CASES[name]
    count = sum(1 for key in case if key.startswith("input"))
    inputs = [Tensor(case[f"input{i}"].copy(), requires_grad=f"grad{i}" in case) for i in range(count)]
    result = TINYTORCH[name](*inputs)
    if "indices" in case:
        result, indices = result
        np.testing.assert_array_equal(indices.data, case["indices"], err_msg=f"{name}: indices")
    assert result.shape == case["out"].shape, f"{name}: output shape {result.shape}, PyTorch {case['out'].shape}"
    np.testing.assert_allclose(result.data, case["out"], rtol=RTOL, atol=ATOL, err_msg=f"{name}: forward")
    backward(result, case["gout"])
    for i, x in enumerate(inputs):
        if f"grad{i}" in case:
            assert x.grad is not None, f"{name}: input {i} got no gradient"
            np.testing.assert_allclose(x.grad.data, case[f"grad{i}"], rtol=RTOL, atol=ATOL,
                                       err_msg=f"{name}: gradient of input {i}")
        else:
            assert x.grad is None, f"{name}: input {i} does not require grad but got one"
