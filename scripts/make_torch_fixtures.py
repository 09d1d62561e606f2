"""Write tests/fixtures/torch_ops.npz: PyTorch's forward values and gradients for every op
that TinyTorch's autograd differentiates (docs/autograd.md), on fixed float64 inputs.

Run it with a Python that has torch (it is never needed by the tests or CI, which only read
the .npz):

    python3 -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch numpy
    /tmp/torchenv/bin/python scripts/make_torch_fixtures.py

For each case the file holds arrays only (no pickle), keyed `<case>/<what>`:
    input0, input1, ...  the inputs (float64; int64 for class targets)
    out                  the forward value (the values, for max/min with dim)
    indices              the indices, for max/min with dim
    gout                 the gradient fed to backward (fixed random, shape of out)
    grad0, grad1, ...    d(sum(out * gout))/d(input_i), only for inputs that require grad
tests/05_autograd/test_autograd_torch_parity.py has the TinyTorch side of every case, by name.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

OUT = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "torch_ops.npz"
rng = np.random.default_rng(20240605)

CASES: dict[str, tuple[list[np.ndarray], list[bool], object]] = {}


def case(name: str, inputs: list, fn, grads: list[bool] | None = None) -> None:
    """Register a case: inputs (arrays), which of them require grad (default: the float ones)."""
    arrays = [np.asarray(a) for a in inputs]
    if grads is None:
        grads = [a.dtype.kind == "f" for a in arrays]
    CASES[name] = (arrays, grads, fn)


def randn(*shape):
    return rng.standard_normal(shape)


def positive(*shape):
    return rng.uniform(0.5, 2.0, shape)


def probabilities(*shape):
    return rng.uniform(0.05, 0.95, shape)


def classes(n, size):
    return rng.integers(0, n, size).astype(np.int64)


# ----- arithmetic -----------------------------------------------------------------------------
case("add_broadcast", [randn(3, 1), randn(1, 4)], lambda a, b: a + b)
case("add_scalar", [randn(2, 3)], lambda a: a + 2.5)
case("sub_broadcast", [randn(2, 3), randn(3)], lambda a, b: a - b)
case("rsub_scalar", [randn(4)], lambda a: 1.0 - a)
case("mul_broadcast", [randn(2, 1, 3), randn(4, 1)], lambda a, b: a * b)
case("mul_same_tensor", [randn(5)], lambda a: a * a)
case("div_broadcast", [randn(2, 3), positive(3)], lambda a, b: a / b)
case("rdiv_scalar", [positive(4)], lambda a: 3.0 / a)
case("neg", [randn(4)], lambda a: -a)
case("pow_scalar", [randn(5)], lambda a: a ** 3)
case("pow_half", [positive(5)], lambda a: a ** 0.5)
case("pow_zero_exponent", [np.array([0.0, 1.5, -2.0])], lambda a: a ** 0)
case("pow_tensor", [positive(4), randn(4)], lambda a, b: a ** b)
case("rpow_scalar_base", [randn(4)], lambda a: 2.0 ** a)
case("matmul_2d", [randn(3, 4), randn(4, 2)], lambda a, b: a @ b)
case("matmul_batched_broadcast", [randn(2, 1, 3, 4), randn(3, 4, 2)], lambda a, b: a @ b)
case("matmul_3d_2d", [randn(2, 3, 4), randn(4, 5)], lambda a, b: a @ b)
case("matmul_1d_left", [randn(4), randn(2, 4, 3)], lambda a, b: a @ b)
case("matmul_1d_right", [randn(2, 3, 4), randn(4)], lambda a, b: a @ b)
case("matmul_dot", [randn(5), randn(5)], lambda a, b: a @ b)

# ----- reductions -----------------------------------------------------------------------------
case("sum_all", [randn(3, 4)], lambda a: a.sum())
case("sum_dims", [randn(2, 3, 4)], lambda a: a.sum(dim=(0, 2)))
case("sum_keepdim", [randn(3, 4)], lambda a: a.sum(dim=1, keepdim=True))
case("sum_negative_dim", [randn(2, 3, 4)], lambda a: a.sum(dim=-1))
case("mean_all", [randn(3, 4)], lambda a: a.mean())
case("mean_dim_keepdim", [randn(2, 3, 4)], lambda a: a.mean(dim=(0, 1), keepdim=True))
ties = np.array([[1.0, 5.0, 5.0, -2.0], [5.0, 0.5, -3.0, -3.0], [2.0, 2.5, 0.0, -3.0]])
case("max_all_ties", [ties], lambda a: a.max())
case("min_all_ties", [ties], lambda a: a.min())
case("max_dim", [randn(3, 4)], lambda a: a.max(dim=1))
case("max_dim_keepdim", [randn(2, 3, 4)], lambda a: a.max(dim=0, keepdim=True))
case("min_dim", [randn(3, 4)], lambda a: a.min(dim=0))
case("min_dim_negative", [randn(2, 3, 4)], lambda a: a.min(dim=-1))
case("var_all", [randn(3, 4)], lambda a: a.var())
case("var_dim_correction0", [randn(3, 4)], lambda a: a.var(dim=1, correction=0))
case("var_dims_keepdim", [randn(2, 3, 4)], lambda a: a.var(dim=(0, 2), keepdim=True))
case("std_dim", [randn(3, 5)], lambda a: a.std(dim=0))
case("std_all", [randn(6)], lambda a: a.std())

# ----- elementwise ----------------------------------------------------------------------------
case("exp", [randn(3, 4)], lambda a: a.exp())
case("log", [positive(3, 4)], lambda a: a.log())
case("sqrt", [positive(3, 4)], lambda a: a.sqrt())
case("abs_with_zero", [np.array([-2.0, -0.5, 0.0, 0.3, 4.0])], lambda a: a.abs())
bounds = np.array([-1.0, -0.5, -0.2, 0.0, 0.5, 0.7, 1.5])
case("clamp_both_at_bounds", [bounds], lambda a: a.clamp(-0.5, 0.5))
case("clamp_min", [bounds], lambda a: a.clamp(min=0.0))
case("clamp_max", [bounds], lambda a: a.clamp(max=0.5))

# ----- shape ----------------------------------------------------------------------------------
case("reshape", [randn(2, 6)], lambda a: a.reshape(3, 4))
case("view_infer", [randn(2, 3, 4)], lambda a: a.view(-1, 4))
case("flatten", [randn(2, 3, 4)], lambda a: a.flatten(1))
case("squeeze", [randn(3, 1, 4)], lambda a: a.squeeze(1))
case("unsqueeze", [randn(3, 4)], lambda a: a.unsqueeze(1))
case("permute", [randn(2, 3, 4)], lambda a: a.permute(2, 0, 1))
case("transpose", [randn(2, 3, 4)], lambda a: a.transpose(0, 2))
case("matrix_T", [randn(3, 5)], lambda a: a.T)
case("expand", [randn(3, 1)], lambda a: a.expand(2, 3, 4))
case("cat_dim1", [randn(2, 2), randn(2, 3), randn(2, 1)],
     lambda a, b, c: torch.cat([a, b, c], dim=1))
case("cat_dim0", [randn(1, 3), randn(2, 3)], lambda a, b: torch.cat([a, b], dim=0))
case("stack_dim0", [randn(2, 3), randn(2, 3)], lambda a, b: torch.stack([a, b], dim=0))
case("stack_dim_last", [randn(2, 3), randn(2, 3), randn(2, 3)],
     lambda a, b, c: torch.stack([a, b, c], dim=-1))
case("getitem_slice", [randn(4, 5)], lambda a: a[1:, ::2])
case("getitem_int", [randn(3, 4)], lambda a: a[1])
case("getitem_negative_int_and_slice", [randn(3, 4, 2)], lambda a: a[-1, 1:3])
case("getitem_repeated_rows", [randn(3, 4)], lambda a: a[[0, 2, 0, 0]])
case("getitem_pairs_repeated", [randn(3, 4)], lambda a: a[[0, 1, 1, 0], [2, 0, 0, 2]])
case("getitem_columns_repeated", [randn(3, 4)], lambda a: a[:, [1, 1, 3]])
case("getitem_bool_mask", [randn(3, 4)], lambda a: a[a > 0])

# ----- activations (module 02) ----------------------------------------------------------------
with_zero = np.array([[-2.0, -0.3, 0.0, 0.4, 3.0], [1.0, -1.0, 0.1, -0.1, 0.0]])
case("relu", [with_zero], F.relu)
case("leaky_relu_default", [with_zero], F.leaky_relu)
case("leaky_relu_0.2", [with_zero], lambda a: F.leaky_relu(a, 0.2))
case("sigmoid", [randn(3, 4) * 3], torch.sigmoid)
case("sigmoid_extreme", [np.array([-800.0, -40.0, 0.0, 40.0, 800.0])], torch.sigmoid)
case("tanh", [randn(3, 4) * 2], torch.tanh)
case("gelu_exact", [randn(3, 4) * 2], F.gelu)
case("gelu_tanh", [randn(3, 4) * 2], lambda a: F.gelu(a, approximate="tanh"))
case("silu", [randn(3, 4) * 2], F.silu)
case("softmax_dim1", [randn(3, 5)], lambda a: F.softmax(a, dim=1))
case("softmax_dim0", [randn(3, 5)], lambda a: F.softmax(a, dim=0))
case("softmax_3d_dim1", [randn(2, 3, 4)], lambda a: F.softmax(a, dim=1))
case("log_softmax_last", [randn(3, 5) * 3], lambda a: F.log_softmax(a, dim=-1))
case("log_softmax_3d_dim1", [randn(2, 3, 4)], lambda a: F.log_softmax(a, dim=1))

# ----- losses (module 04) ---------------------------------------------------------------------
N, C = 6, 4
logits, target, class_weight = randn(N, C), classes(C, N), positive(C)
ignored = target.copy()
ignored[[1, 4]] = -100
ignored_one = target.copy()
ignored_one[target == 1] = 0
ignored_one[[0, 3]] = 1
case("cross_entropy_mean", [logits, target], lambda x, t: F.cross_entropy(x, t))
case("cross_entropy_sum", [logits, target], lambda x, t: F.cross_entropy(x, t, reduction="sum"))
case("cross_entropy_none", [logits, target], lambda x, t: F.cross_entropy(x, t, reduction="none"))
case("cross_entropy_weight_mean", [logits, target, class_weight],
     lambda x, t, w: F.cross_entropy(x, t, weight=w), grads=[True, False, False])
case("cross_entropy_weight_sum", [logits, target, class_weight],
     lambda x, t, w: F.cross_entropy(x, t, weight=w, reduction="sum"), grads=[True, False, False])
case("cross_entropy_weight_none", [logits, target, class_weight],
     lambda x, t, w: F.cross_entropy(x, t, weight=w, reduction="none"), grads=[True, False, False])
case("cross_entropy_ignore_default", [logits, ignored], lambda x, t: F.cross_entropy(x, t))
case("cross_entropy_ignore_index_1", [logits, ignored_one],
     lambda x, t: F.cross_entropy(x, t, ignore_index=1))
case("cross_entropy_ignore_weight", [logits, ignored, class_weight],
     lambda x, t, w: F.cross_entropy(x, t, weight=w), grads=[True, False, False])
case("cross_entropy_smoothing", [logits, target],
     lambda x, t: F.cross_entropy(x, t, label_smoothing=0.1))
case("cross_entropy_smoothing_sum", [logits, target],
     lambda x, t: F.cross_entropy(x, t, label_smoothing=0.2, reduction="sum"))
case("cross_entropy_smoothing_none", [logits, target],
     lambda x, t: F.cross_entropy(x, t, label_smoothing=0.2, reduction="none"))
case("cross_entropy_smoothing_weight", [logits, target, class_weight],
     lambda x, t, w: F.cross_entropy(x, t, weight=w, label_smoothing=0.1),
     grads=[True, False, False])
case("cross_entropy_smoothing_ignore", [logits, ignored],
     lambda x, t: F.cross_entropy(x, t, label_smoothing=0.1))
case("cross_entropy_smoothing_ignore_weight", [logits, ignored, class_weight],
     lambda x, t, w: F.cross_entropy(x, t, weight=w, label_smoothing=0.3, ignore_index=-100),
     grads=[True, False, False])
case("cross_entropy_spatial", [randn(2, C, 3), classes(C, (2, 3))],
     lambda x, t: F.cross_entropy(x, t))
case("cross_entropy_single_sample", [randn(C), np.array(2, dtype=np.int64)],
     lambda x, t: F.cross_entropy(x, t))
log_probs = np.log(probabilities(N, C))
case("nll_loss_mean", [log_probs, target], lambda x, t: F.nll_loss(x, t))
case("nll_loss_weight_ignore", [log_probs, ignored, class_weight],
     lambda x, t, w: F.nll_loss(x, t, weight=w), grads=[True, False, False])
case("nll_loss_none", [log_probs, ignored], lambda x, t: F.nll_loss(x, t, reduction="none"))
p, y = probabilities(3, 4), rng.uniform(0, 1, (3, 4))
labels = rng.integers(0, 2, (3, 4)).astype(np.float64)
case("bce_mean", [p, labels], lambda a, b: F.binary_cross_entropy(a, b), grads=[True, False])
case("bce_sum_soft_targets", [p, y], lambda a, b: F.binary_cross_entropy(a, b, reduction="sum"))
case("bce_none_weight", [p, labels, positive(4)],
     lambda a, b, w: F.binary_cross_entropy(a, b, weight=w, reduction="none"),
     grads=[True, False, False])
case("bce_weight_mean", [p, labels, positive(3, 1)],
     lambda a, b, w: F.binary_cross_entropy(a, b, weight=w), grads=[True, False, False])
case("bce_clamped_logs", [np.array([0.0, 1.0, 0.0, 1.0, 0.5]), np.array([1.0, 0.0, 0.0, 1.0, 1.0])],
     lambda a, b: F.binary_cross_entropy(a, b, reduction="sum"), grads=[True, False])
z = randn(3, 4) * 3
case("bce_logits_mean", [z, labels], lambda a, b: F.binary_cross_entropy_with_logits(a, b),
     grads=[True, False])
case("bce_logits_soft_targets_grad", [z, y],
     lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction="sum"))
case("bce_logits_weight_none", [z, labels, positive(4)],
     lambda a, b, w: F.binary_cross_entropy_with_logits(a, b, weight=w, reduction="none"),
     grads=[True, False, False])
case("bce_logits_pos_weight", [z, y, positive(4)],
     lambda a, b, q: F.binary_cross_entropy_with_logits(a, b, pos_weight=q),
     grads=[True, True, False])
case("bce_logits_weight_pos_weight", [z, labels, positive(3, 1), positive(4)],
     lambda a, b, w, q: F.binary_cross_entropy_with_logits(a, b, weight=w, pos_weight=q),
     grads=[True, False, False, False])
case("bce_logits_extreme",
     [np.array([-60.0, -20.0, 0.0, 20.0, 60.0]), np.array([1.0, 0.0, 1.0, 0.0, 1.0])],
     lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction="sum"), grads=[True, False])
case("mse_mean", [randn(3, 4), randn(3, 4)], lambda a, b: F.mse_loss(a, b), grads=[True, False])
case("mse_sum", [randn(3, 4), randn(3, 4)], lambda a, b: F.mse_loss(a, b, reduction="sum"))


def run(name: str, inputs: list[np.ndarray], grads: list[bool], fn) -> dict[str, np.ndarray]:
    tensors = [torch.tensor(a, requires_grad=g) for a, g in zip(inputs, grads)]
    result = fn(*tensors)
    arrays = {f"{name}/input{i}": a for i, a in enumerate(inputs)}
    if isinstance(result, tuple):  # max/min with dim: (values, indices)
        result, indices = result
        arrays[f"{name}/indices"] = indices.numpy().astype(np.int64)
    gout = rng.standard_normal(tuple(result.shape))
    result.backward(torch.tensor(gout))
    arrays[f"{name}/out"] = result.detach().numpy()
    arrays[f"{name}/gout"] = gout
    for i, t in enumerate(tensors):
        if grads[i]:
            arrays[f"{name}/grad{i}"] = t.grad.numpy()
    return arrays


def main() -> int:
    torch.manual_seed(0)
    everything: dict[str, np.ndarray] = {}
    for name, (inputs, grads, fn) in CASES.items():
        everything.update(run(name, inputs, grads, fn))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez(OUT, **everything)
    print(f"wrote {OUT.relative_to(OUT.parents[2])}: {len(CASES)} cases, {len(everything)} arrays, "
          f"{OUT.stat().st_size / 1024:.0f} KB (torch {torch.__version__})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
