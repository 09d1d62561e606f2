"""Module 09 against PyTorch: forward values and gradients of every spatial layer, case by case.

tests/fixtures/torch_spatial.npz was written by scripts/make_spatial_fixtures.py with torch 2.13
(never imported here). Everything is float64, so tolerances are tight.
"""

from __future__ import annotations

import numpy as np
import pytest
from support import load_torch_cases

from tinytorch.core.spatial import BatchNorm1d, BatchNorm2d, adaptive_avg_pool2d, avg_pool2d, conv2d, max_pool2d
from tinytorch.core.tensor import Tensor

RTOL, ATOL = 1e-9, 1e-11


CASES = load_torch_cases("torch_spatial.npz")


def arg(value: np.ndarray):
    """A saved argument back as Python: 'same', 3, (1, 2), or None for -1."""
    if value.dtype.kind == "U":
        return str(value)
    if value.ndim == 0:
        return None if value == -1 else int(value)
    return tuple(None if v == -1 else int(v) for v in value)


def check(out: Tensor, inputs: dict[str, Tensor], case: dict[str, np.ndarray]) -> None:
    np.testing.assert_allclose(out.data, case["out"], rtol=RTOL, atol=ATOL, err_msg="forward")
    out.backward(Tensor(case["gout"]))
    for name, tensor in inputs.items():
        np.testing.assert_allclose(tensor.grad.data, case[f"grad_{name}"], rtol=RTOL, atol=ATOL,
                                   err_msg=f"gradient of {name}")


def named(prefix: str) -> list[str]:
    return sorted(name for name in CASES if name.startswith(prefix))


def test_fixtures_cover_every_kind():
    assert len(named("conv_")) >= 8 and len(named("max_")) >= 5 and len(named("avg_")) >= 4
    assert len(named("adaptive_")) >= 4 and len(named("bn")) >= 6


@pytest.mark.parametrize("name", named("conv_"))
def test_conv2d_matches_pytorch(name):
    case = CASES[name]
    inputs = {key: Tensor(case[key].copy(), requires_grad=True) for key in ("x", "weight", "bias") if key in case}
    out = conv2d(inputs["x"], inputs["weight"], inputs.get("bias"), stride=arg(case["stride"]),
                 padding=arg(case["padding"]), dilation=arg(case["dilation"]), groups=arg(case["groups"]))
    check(out, inputs, case)


@pytest.mark.parametrize("name", named("max_"))
def test_max_pool2d_matches_pytorch(name):
    case = CASES[name]
    x = Tensor(case["x"].copy(), requires_grad=True)
    out = max_pool2d(x, arg(case["kernel"]), arg(case["stride"]), arg(case["padding"]), arg(case["dilation"]))
    check(out, {"x": x}, case)


@pytest.mark.parametrize("name", named("avg_"))
def test_avg_pool2d_matches_pytorch(name):
    case = CASES[name]
    x = Tensor(case["x"].copy(), requires_grad=True)
    out = avg_pool2d(x, arg(case["kernel"]), arg(case["stride"]), arg(case["padding"]),
                     count_include_pad=bool(case["count_include_pad"]), divisor_override=arg(case["divisor_override"]))
    check(out, {"x": x}, case)


@pytest.mark.parametrize("name", named("adaptive_"))
def test_adaptive_avg_pool2d_matches_pytorch(name):
    case = CASES[name]
    x = Tensor(case["x"].copy(), requires_grad=True)
    check(adaptive_avg_pool2d(x, arg(case["output_size"])), {"x": x}, case)


@pytest.mark.parametrize("name", named("bn"))
def test_batch_norm_matches_pytorch_in_train_and_eval(name):
    case = CASES[name]
    x1 = case["x1"]
    cls = BatchNorm2d if x1.ndim == 4 else BatchNorm1d
    momentum = None if case["momentum"] == -1 else float(case["momentum"])
    affine, track = bool(case["affine"]), bool(case["track"])
    bn = cls(x1.shape[1], eps=float(case["eps"]), momentum=momentum, affine=affine, track_running_stats=track,
             dtype=np.float64)
    if affine:
        bn.weight.data[...] = case["weight"]
        bn.bias.data[...] = case["bias"]
    bn(Tensor(x1))
    x = Tensor(case["x2"].copy(), requires_grad=True)
    out = bn(x)
    np.testing.assert_allclose(out.data, case["out"], rtol=RTOL, atol=ATOL, err_msg="second training step")
    out.backward(Tensor(case["gout"]))
    np.testing.assert_allclose(x.grad.data, case["grad_x"], rtol=1e-8, atol=1e-10)
    if affine:
        np.testing.assert_allclose(bn.weight.grad.data, case["grad_weight"], rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(bn.bias.grad.data, case["grad_bias"], rtol=RTOL, atol=ATOL)
    if track:
        np.testing.assert_allclose(bn.running_mean.data, case["running_mean"], rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(bn.running_var.data, case["running_var"], rtol=RTOL, atol=ATOL)
        assert bn.num_batches_tracked.item() == int(case["num_batches_tracked"])
    bn.eval()
    eval_x = Tensor(case["eval_x"].copy(), requires_grad=True)
    eval_out = bn(eval_x)
    np.testing.assert_allclose(eval_out.data, case["eval_out"], rtol=RTOL, atol=ATOL, err_msg="eval mode")
    eval_out.backward(Tensor(case["eval_gout"]))
    np.testing.assert_allclose(eval_x.grad.data, case["eval_grad_x"], rtol=1e-8, atol=1e-10)
