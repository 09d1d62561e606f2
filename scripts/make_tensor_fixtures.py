"""Write tests/01_tensor/tensor_fixtures.npz (PyTorch's results for module 01's operations) and
tests/05_autograd/tensor_grad_fixtures.npz (PyTorch's gradients for the ops added for transformers
and PyTorch compatibility: masked_fill, where, tril/triu, split/chunk/unbind, ...).

Each case is one expression that reads the same in PyTorch and TinyTorch (`tt` is `torch` here and
`tinytorch.core.tensor` in the test), evaluated on fixed inputs. The file stores the inputs, the
expressions, and each result's values, dtype name and shape, so the tests compare against PyTorch
without needing it. Arrays only: the tests load it with allow_pickle=False.

Needs torch (any 2.x; the committed file was made with 2.13.0):
    python3 -m venv /tmp/torch && /tmp/torch/bin/pip install torch numpy
    /tmp/torch/bin/python scripts/make_tensor_fixtures.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

OUT = Path(__file__).resolve().parents[1] / "tests" / "01_tensor" / "tensor_fixtures.npz"


def make_inputs() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1234)
    return {
        "x": rng.standard_normal((3, 4)).astype(np.float32),
        "y": rng.standard_normal(4).astype(np.float32),
        "z": rng.standard_normal((3, 1)).astype(np.float32),
        "v": rng.standard_normal(4).astype(np.float32),
        "w": rng.standard_normal((4, 5)).astype(np.float32),
        "batch": rng.standard_normal((2, 3, 4)).astype(np.float32),
        "pos": rng.uniform(0.5, 3.0, (3, 4)).astype(np.float32),
        "xd": rng.standard_normal((3, 4)),  # float64
        "i": rng.integers(-5, 6, (3, 4)).astype(np.int64),
        "bools": rng.random((3, 4)) > 0.5,
    }


CASES = [
    # arithmetic, broadcasting, reflected operators
    "x + y", "x - z", "x * z", "x / y", "-x", "x ** 2", "pos ** 0.5", "pos ** y", "2.0 - x",
    "1.0 / pos", "2 ** i.abs()", "2.0 ** i", "x + 1", "z * y", "x.add(y)", "x.sub(1.5)", "x.mul(z)",
    "x.div(pos)", "x.neg()", "pos.pow(2)",
    # dtype promotion
    "i + 1", "i * 0.5", "i / 2", "i / i.abs().clamp(min=1)", "i + x", "x + xd", "i + xd",
    "bools + bools", "bools * 2.5", "bools + i", "i ** 2",
    "x + tt.tensor(2.0, dtype=tt.float64)", "i + tt.tensor(2.5, dtype=tt.float64)",
    "i + tt.tensor(3, dtype=tt.int32)", "tt.tensor([1, 2], dtype=tt.int32) + tt.tensor(3)",
    "tt.tensor([1, 2], dtype=tt.uint8) + tt.tensor([1, 2], dtype=tt.int8)",
    # comparisons
    "x > 0", "x == x", "i <= 0", "x < y", "x != z", "i == 1.0", "x.ge(0.5)", "x.eq(x)",
    # matrix multiplication
    "x @ w", "x @ v", "v @ v", "v @ w", "batch @ w", "batch @ batch.transpose(1, 2)",
    "x.matmul(w)", "i @ i.T",
    # reductions
    "x.sum()", "x.sum(dim=0)", "x.sum(dim=1, keepdim=True)", "x.sum(dim=(0, 1))", "x.sum(dim=-1)",
    "x.sum(dim=())", "batch.sum(dim=(0, 2), keepdim=True)", "i.sum()", "bools.sum()", "i.sum(dim=0)",
    "x.mean()", "x.mean(dim=0, keepdim=True)", "batch.mean(dim=(0, 2))", "x.mean(dim=-1)",
    "x.max()", "x.min()", "i.max()", "x.max(dim=1).values", "x.max(dim=1).indices",
    "x.min(dim=0, keepdim=True).values", "x.min(dim=0, keepdim=True).indices",
    "batch.max(dim=-1).values", "x.argmax()", "x.argmax(dim=1)", "x.argmin(dim=0, keepdim=True)",
    "x.argmax(keepdim=True)", "x.argmin()",
    "x.var()", "x.var(dim=1)", "x.var(dim=0, correction=0)", "x.var(dim=1, keepdim=True)",
    "x.var(0, False)", "x.var(unbiased=False)", "x.std()", "x.std(dim=0)",
    "batch.std(dim=(1, 2), correction=0)", "batch.var(dim=-1, keepdim=True)",
    # elementwise math
    "x.exp()", "pos.log()", "pos.sqrt()", "x.abs()", "i.abs()", "x.clamp(min=0.0)",
    "x.clamp(-0.5, 0.5)", "x.clamp(max=0.1)", "i.clamp(min=0)", "i.clamp(min=0.5)",
    "x.clamp(min=1.0, max=-1.0)", "i.exp()", "i.float().sqrt()", "tt.tensor([0.0, -1.0]).log()",
    "tt.tensor([-4.0, 4.0]).sqrt()", "tt.tensor([1.0, 0.0, -1.0]) / 0.0",
    # shapes
    "x.reshape(2, 6)", "x.reshape(-1)", "x.reshape((4, 3))", "x.reshape(6, -1)", "x.view(12)",
    "x.view(2, -1, 2)", "x.T", "x.transpose(0, 1)", "batch.permute(2, 0, 1)",
    "batch.permute((1, 2, 0))", "batch.transpose(-1, 0)", "batch.flatten()", "batch.flatten(1)",
    "batch.flatten(0, 1)", "z.squeeze()", "z.squeeze(1)", "z.squeeze(0)", "y.unsqueeze(0)",
    "y.unsqueeze(-1)", "z.expand(3, 5)", "z.expand(2, -1, 4)", "y.expand(2, 4)", "x.T.reshape(-1)",
    "x.T.contiguous()", "batch.reshape(3, 8)",
    # indexing
    "x[1]", "x[-1, 2]", "x[:, 1:3]", "x[::2]", "x[..., 0]", "x[None]", "x[:, None, 1]", "x[[0, 2]]",
    "x[tt.tensor([2, 0, 2])]", "x[x > 0]", "x[tt.tensor([0, 1]), tt.tensor([3, 2])]",
    "batch[:, 1, [0, 3]]", "x[1:2, tt.tensor([True, False, True, False])]", "batch[..., 1:]",
    # joining
    "tt.cat([x, x], dim=0)", "tt.cat([x, z], dim=1)", "tt.cat([y, v])", "tt.cat([x, x], dim=-1)",
    "tt.stack([y, v])", "tt.stack([x, x], dim=-1)", "tt.stack([y, v], dim=1)", "tt.cat([i, x])",
    "tt.stack([i, x])",
    # creation
    "tt.arange(5)", "tt.arange(2, 10, 3)", "tt.arange(0, 1, 0.1)", "tt.arange(1, 2.5)",
    "tt.arange(5, 0, -1.5)", "tt.arange(5, dtype=tt.float32)", "tt.zeros(2, 3)",
    "tt.zeros((2, 3), dtype=tt.int64)", "tt.ones((2,), dtype=tt.int64)", "tt.ones(3)",
    "tt.full((2, 2), 7)", "tt.full((2, 2), 1.5)", "tt.full((2,), True)", "tt.eye(3)", "tt.eye(2, 3)",
    "tt.tensor([[1, 2], [3, 4]])", "tt.tensor([1.5, 2])", "tt.tensor(3)", "tt.tensor(2.5)",
    "tt.tensor([True, False])", "tt.tensor([0.1], dtype=tt.float64)", "tt.zeros_like(x)",
    "tt.ones_like(i)", "tt.zeros_like(x, dtype=tt.float64)",
    # conversions
    "x.float()", "x.double()", "x.long()", "i.float()", "x.detach()", "xd.float()",
    # masks, triangles and pieces (what a transformer needs)
    "x.masked_fill(x > 0, -1.5)", "x.masked_fill(bools, float('-inf'))", "x.masked_fill(z > 0, 0.0)",
    "batch.masked_fill(tt.ones(3, 4).tril() == 0, float('-inf'))", "i.masked_fill(bools, 7)",
    "i.masked_fill(bools, 0.7)", "x.masked_fill(bools, tt.tensor(2.0, dtype=tt.float64))",
    "tt.where(x > 0, x, y)", "tt.where(bools, i, 0.5)", "tt.where(bools, i, x)", "x.where(x > 0, 0.0)",
    "tt.where(bools, 1, 0)", "tt.where(bools, 1.0, 0)", "tt.where(z > 0, xd, x)", "tt.where(bools)[1]",
    "x.tril()", "x.triu(1)", "x.tril(-1)", "batch.tril(2)", "tt.tril(x, 1)", "tt.triu(batch, -1)",
    "tt.tril(i)", "(tt.ones(3, 3) > 0).tril()",
    "x.split(3, dim=1)[1]", "x.split([1, 3], dim=1)[1]", "tt.split(batch, 2, dim=-1)[0]",
    "tt.stack(x.chunk(3))", "tt.cat(x.chunk(3, dim=1), dim=0)", "tt.stack(tt.ones(6).chunk(4))",
    "tt.stack(batch.unbind(1))", "x.unbind(1)[2]", "tt.unbind(batch, -1)[3]",
    "batch.transpose(1, 2).contiguous().view(2, -1)", "batch.view(-1, 4)",
    "batch @ batch.transpose(-2, -1)", "tt.ones(2, 3, 4, 5) @ tt.ones(2, 3, 5, 4)",
    # conversions and copies (PyTorch compatibility)
    "x.half()", "x.int()", "x.bool()", "i.bool()", "x.to(tt.float64)", "x.to('cpu')", "i.to(x)",
    "x.to('cpu', tt.float16)", "x.type_as(i)", "x.clone()", "x.T.clone()", "x.t()", "batch.mT", "v.t()",
    "x.new_zeros(2, 3)", "i.new_ones((2,))", "x.new_full((2,), 3)", "i.repeat(2, 1)", "y.repeat(2, 3)",
    "z.repeat(1, 2, 2)", "bools.all()", "bools.any(dim=1)", "bools.all(dim=0, keepdim=True)", "x.any()",
    "i.all(dim=1)", "tt.tensor([1.0, float('nan'), float('inf')]).isnan()",
    "tt.tensor([1.0, float('nan'), -float('inf')]).isinf()", "tt.tensor([1.0, float('nan'), float('inf')]).isfinite()",
    "x.isfinite()", "i.isnan()",
    # selections and sorting
    "tt.maximum(x, y)", "tt.minimum(x, z)", "x.maximum(tt.tensor(0.0))", "tt.maximum(i, x)",
    "i.minimum(i.abs())", "x.max(y)", "x.min(z)", "x.gather(1, tt.tensor([[0, 0], [3, 1], [2, 2]]))",
    "x.gather(0, tt.tensor([[2, 0, 1, 1]]))", "x.sort().values", "x.sort(dim=0, descending=True).indices",
    "i.sort(stable=True).indices", "i.sort(dim=1, descending=True, stable=True).indices",
    "i.sort(dim=0, stable=True).values", "x.argsort(dim=1)", "x.topk(2).values", "x.topk(2).indices",
    "x.topk(2, dim=0, largest=False).indices", "x.topk(1).values", "tt.sort(batch, dim=1).values",
    "tt.topk(y, 3).values", "tt.full_like(i, 2.7)", "tt.full_like(x, 3)", "tt.as_tensor([1, 2])",
    "tt.as_tensor(x, dtype=tt.float64)",
    # in-place (each returns the tensor it changed)
    "x.clone().add_(y)", "x.clone().sub_(z, alpha=2)", "x.clone().mul_(0.5)", "x.clone().div_(pos)",
    "i.clone().add_(3)", "i.clone().mul_(i)", "x.clone().clamp_(-0.3, 0.3)", "i.clone().clamp_(min=0)",
    "x.clone().zero_()", "x.clone().fill_(2.5)", "i.clone().fill_(2.7)", "x.clone().copy_(y)",
    "i.clone().copy_(x)", "x.clone().copy_(i)", "xd.clone().add_(x)", "x.clone().add_(xd)",
]

# Function forms, evaluated with `torch` being the package (`import tinytorch as torch` in the test).
PACKAGE_CASES = [
    "torch.sum(x)", "torch.sum(x, 1)", "torch.sum(x, dim=0, keepdim=True)", "torch.mean(x, 1)", "torch.max(x)",
    "torch.max(x, 1).values", "torch.max(x, 1)[1]", "torch.max(x, dim=0, keepdim=True).indices", "torch.max(x, y)",
    "torch.min(x)", "torch.min(x, 0).indices", "torch.min(x, z)", "torch.argmax(x)", "torch.argmax(x, dim=1)",
    "torch.argmin(x, 0)", "torch.exp(x)", "torch.log(pos)", "torch.sqrt(pos)", "torch.abs(i)", "torch.abs(x)",
    "torch.clamp(x, min=0.0)", "torch.clamp(x, -0.5, 0.5)", "torch.clip(x, max=0.0)", "torch.matmul(x, w)",
    "torch.flatten(batch, 1)", "torch.reshape(x, (2, -1))", "torch.transpose(batch, 0, 2)",
    "torch.permute(batch, (2, 0, 1))", "torch.where(x > 0, x, 0.0)", "torch.maximum(x, y)", "torch.minimum(x, z)",
    "torch.softmax(x, dim=1)", "torch.softmax(x, 0)", "torch.log_softmax(x, dim=-1)", "x.softmax(-1)",
    "x.log_softmax(dim=0)", "torch.tril(x)", "torch.triu(x, 1)", "torch.topk(x, 2).values",
    "torch.topk(x, 2, dim=0).indices", "torch.sort(x, dim=1).values", "torch.sort(x, descending=True)[1]",
    "torch.zeros_like(x)", "torch.ones_like(i)", "torch.full_like(x, 7)", "torch.squeeze(z)", "torch.unsqueeze(y, 0)",
    "torch.var(x, 0)", "torch.std(x)", "torch.cat([x, x])", "torch.stack([y, v])", "torch.masked_fill(x, bools, 0.0)",
    "torch.chunk(x, 2, dim=1)[1]", "torch.split(x, 2, 1)[0]", "torch.unbind(x)[1]", "torch.all(bools)",
    "torch.any(bools, dim=0)", "torch.isnan(x)", "torch.isfinite(x)",
    "torch.gather(x, 1, torch.tensor([[1], [0], [3]]))",
    "torch.as_tensor([1.5, 2])", "x.to(torch.float)", "i.to(torch.long)", "x.to(torch.double)", "x.to(torch.half)",
    "x.to(torch.bool)", "x.to(torch.int)", "torch.ones(2, dtype=torch.long)", "x.to('cpu', torch.float64)",
]

# Gradients: d(sum_k out_k * gout_k)/d(input) for float64 inputs that require grad. Tuple results
# (split, chunk, unbind) have one gout per piece.
GRAD_CASES = [
    "a.masked_fill(a > 0, -1.5)", "a.masked_fill(tt.tensor([True, False, False, True]), s)",
    "c.masked_fill(tt.ones(3, 3).tril() == 0, -1e9)", "tt.where(a > 0, a, b)", "a.where(a < 0.5, 2.0)",
    "tt.where(tt.tensor([[True], [False], [True]]), b, a)", "a.tril()", "a.triu(1)", "tt.tril(c, -1)",
    "tt.triu(c, 1)", "a.split(3, dim=1)", "a.split([1, 2, 1], dim=1)", "a.chunk(2)", "c.chunk(2, dim=-1)",
    "a.unbind(1)", "tt.unbind(c)", "c.transpose(1, 2).contiguous().view(2, -1)",
    # conversions, copies and selections
    "tt.maximum(a, b)", "tt.maximum(a, a.detach())", "tt.minimum(a, tt.tensor(0.0, dtype=tt.float64))",
    "a.max(b)", "a.min(a.detach())", "a.clone() * a", "a.T.clone()", "a.float().double()", "a.half().double()",
    "a.to(tt.float32)", "a.repeat(2, 1)", "c.repeat(1, 2, 1, 1)", "a.gather(1, tt.tensor([[0, 0], [3, 1], [2, 2]]))",
    "a.sort(dim=1)", "a.sort(dim=0, descending=True).values", "a.topk(2)", "c.topk(2, dim=1, largest=False).values",
    "a.t()", "c.mT",
    # in place on tensors inside the graph (recorded: the old value keeps its history)
    "(a * 1).add_(b)", "(a * 1).sub_(b, alpha=2)", "(a * 1).mul_(b)", "(a * 2).div_(b)", "(a * 1).clamp_(-0.5, 0.5)",
    "(a * 1).zero_()", "(a * 1).fill_(s)", "(a * 1).copy_(b)", "(a * 1).masked_fill(a > 0, 0.0).mul_(a)",
    "tt.zeros(3, 4, dtype=tt.float64).add_(a)", "(a.exp() * 1).add_(b).mul_(s)",
]
GRAD_OUT = Path(__file__).resolve().parents[1] / "tests" / "05_autograd" / "tensor_grad_fixtures.npz"


def make_grad_inputs() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(4321)
    return {"a": rng.standard_normal((3, 4)), "b": rng.standard_normal(4), "s": np.array(0.75),
            "c": rng.standard_normal((2, 3, 3))}


def write_grad_cases() -> None:
    inputs = make_grad_inputs()
    rng = np.random.default_rng(99)
    arrays = {f"input_{name}": array for name, array in inputs.items()}
    for number, expression in enumerate(GRAD_CASES):
        leaves = {name: torch.tensor(array, requires_grad=True) for name, array in inputs.items()}
        result = eval(expression, {"tt": torch, **leaves})  # noqa: S307 - our own fixed expressions
        outputs = result if isinstance(result, tuple) else (result,)
        total = 0
        for k, out in enumerate(outputs):
            gout = rng.standard_normal(tuple(out.shape))
            arrays[f"case_{number}/out{k}"] = out.detach().numpy()
            arrays[f"case_{number}/gout{k}"] = gout
            total = total + (out * torch.from_numpy(gout)).sum()
        total.backward()
        for name, leaf in leaves.items():
            if leaf.grad is not None:
                arrays[f"case_{number}/grad_{name}"] = leaf.grad.numpy()
    arrays["expressions"] = np.array(GRAD_CASES)
    arrays["torch_version"] = np.array(torch.__version__)
    np.savez_compressed(GRAD_OUT, **arrays)
    print(f"wrote {len(GRAD_CASES)} gradient cases to {GRAD_OUT} (torch {torch.__version__})")


def main() -> None:
    inputs = make_inputs()
    namespace = {"tt": torch, **{name: torch.from_numpy(array.copy()) for name, array in inputs.items()}}
    arrays = {f"input_{name}": array for name, array in inputs.items()}
    dtypes, shapes = [], []
    for number, expression in enumerate(CASES):
        result = eval(expression, dict(namespace))  # noqa: S307 - our own fixed expressions
        assert isinstance(result, torch.Tensor), f"{expression} gave {type(result).__name__}"
        arrays[f"case_{number}"] = result.detach().numpy()
        dtypes.append(str(result.dtype).removeprefix("torch."))
        shapes.append(repr(tuple(result.shape)))
    arrays["expressions"] = np.array(CASES)
    arrays["dtypes"] = np.array(dtypes)
    arrays["shapes"] = np.array(shapes)
    arrays["torch_version"] = np.array(torch.__version__)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT, **arrays)
    print(f"wrote {len(CASES)} cases to {OUT} (torch {torch.__version__})")
    write_grad_cases()
    write_package_cases(inputs)


PACKAGE_OUT = Path(__file__).resolve().parents[1] / "tests" / "01_tensor" / "package_fixtures.npz"


def write_package_cases(inputs: dict[str, np.ndarray]) -> None:
    namespace = {"torch": torch, **{name: torch.from_numpy(array.copy()) for name, array in inputs.items()}}
    arrays, dtypes, shapes = {}, [], []
    for number, expression in enumerate(PACKAGE_CASES):
        result = eval(expression, dict(namespace))  # noqa: S307 - our own fixed expressions
        assert isinstance(result, torch.Tensor), f"{expression} gave {type(result).__name__}"
        arrays[f"case_{number}"] = result.detach().numpy()
        dtypes.append(str(result.dtype).removeprefix("torch."))
        shapes.append(repr(tuple(result.shape)))
    arrays.update(expressions=np.array(PACKAGE_CASES), dtypes=np.array(dtypes), shapes=np.array(shapes),
                  torch_version=np.array(torch.__version__))
    np.savez_compressed(PACKAGE_OUT, **arrays)
    print(f"wrote {len(PACKAGE_CASES)} function-form cases to {PACKAGE_OUT} (torch {torch.__version__})")


if __name__ == "__main__":
    main()
