"""Module 18: distillation loss, SVD factorization, CSR storage."""

from __future__ import annotations

import os

import numpy as np
import pytest

from tinytorch.core.autograd import gradcheck, no_grad
from tinytorch.core.layers import Linear, ReLU, Sequential
from tinytorch.core.optimizers import SGD
from tinytorch.core.spatial import Conv2d
from tinytorch.core.tensor import Tensor, manual_seed
from tinytorch.systems import compression as C


# ----- distillation ------------------------------------------------------------------------
def reference_distillation(student, teacher, target, t, alpha):
    def log_softmax(z):
        z = z - z.max(1, keepdims=True)
        return z - np.log(np.exp(z).sum(1, keepdims=True))

    log_p, log_q = log_softmax(teacher / t), log_softmax(student / t)
    kl = (np.exp(log_p) * (log_p - log_q)).sum(1).mean()
    hard = -log_softmax(student)[np.arange(len(target)), target].mean()
    return alpha * t * t * kl + (1 - alpha) * hard


@pytest.mark.parametrize("t,alpha", [(1.0, 0.5), (4.0, 0.9), (2.5, 0.0), (8.0, 1.0)])
def test_distillation_loss_value_and_gradient(t, alpha):
    rng = np.random.default_rng(int(t * 10))
    s = Tensor(rng.standard_normal((6, 5)) * 3, requires_grad=True)
    teacher = Tensor(rng.standard_normal((6, 5)) * 3)
    y = rng.integers(0, 5, 6)
    loss = C.distillation_loss(s, teacher, Tensor(y), t, alpha)
    assert np.isclose(loss.item(), reference_distillation(s.data, teacher.data, y, t, alpha), rtol=1e-10)
    assert gradcheck(lambda z: C.distillation_loss(z, teacher, Tensor(y), t, alpha), (s,))


def test_teacher_gets_no_gradient_and_t_squared_keeps_the_soft_gradient_scale():
    rng = np.random.default_rng(1)
    teacher = Tensor(rng.standard_normal((50, 10)), requires_grad=True)
    norms = []
    for t in (2.0, 8.0):
        s = Tensor(rng.standard_normal((50, 10)), requires_grad=True)
        C.distillation_loss(s, teacher, Tensor(rng.integers(0, 10, 50)), t, alpha=1.0).backward()
        norms.append(np.abs(s.grad.data).mean())
    assert teacher.grad is None
    assert 0.3 < norms[1] / norms[0] < 3, "with T² the soft term's gradient must not shrink like 1/T²"


def test_distillation_bad_arguments():
    s, y = Tensor(np.zeros((2, 3))), Tensor(np.zeros(2, dtype=np.int64))
    with pytest.raises(ValueError, match="temperature must be > 0"):
        C.distillation_loss(s, s, y, temperature=0)
    with pytest.raises(ValueError, match=r"alpha must be in \[0, 1\]"):
        C.distillation_loss(s, s, y, alpha=1.5)
    with pytest.raises(ValueError, match="same shape"):
        C.distillation_loss(s, Tensor(np.zeros((2, 4))), y)
    with pytest.raises(ValueError, match="epochs"):
        C.distill(Linear(3, 3), Linear(3, 3), [], SGD(Linear(3, 3).parameters(), lr=0.1), epochs=0)


def test_distill_with_alpha_zero_is_plain_training_and_distilled_student_moves_towards_teacher():
    rng = np.random.default_rng(2)
    x = Tensor(rng.standard_normal((40, 8)).astype(np.float32))
    y = Tensor(rng.integers(0, 4, 40))
    manual_seed(0)
    teacher = Sequential(Linear(8, 32), ReLU(), Linear(32, 4))
    students = []
    for alpha in (0.0, 1.0):
        manual_seed(1)
        student = Sequential(Linear(8, 4))
        losses = C.distill(student, teacher, [(x, y)] * 5, SGD(student.parameters(), lr=0.5), epochs=4,
                           temperature=2.0, alpha=alpha)
        assert losses[-1] < losses[0]
        students.append(student)
    with no_grad():
        target = teacher(x).data.argmax(1)
        agree = [float((s(x).data.argmax(1) == target).mean()) for s in students]
    assert agree[1] >= agree[0]


# ----- low rank ----------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(9, 5), (5, 9), (6, 6)])
def test_full_rank_reproduces_the_layer(shape):
    manual_seed(3)
    layer = Linear(shape[1], shape[0])
    pair, info = C.low_rank_linear(layer, rank=min(shape))
    x = Tensor(np.random.default_rng(3).standard_normal((4, shape[1])).astype(np.float32))
    with no_grad():
        np.testing.assert_allclose(pair(x).data, layer(x).data, atol=2e-6)
    assert info["relative_error"] < 1e-6 and info["energy_kept"] > 1 - 1e-9


def test_rank_and_energy_accounting():
    manual_seed(4)
    layer = Linear(40, 30)
    s = np.linalg.svd(layer.weight.data.astype(np.float64), compute_uv=False)
    for r in (1, 5, 17):
        pair, info = C.low_rank_linear(layer, rank=r)
        assert info["params_after"] == r * (40 + 30) + 30 and info["params_before"] == 40 * 30 + 30
        assert C.count_parameters(pair) == info["params_after"]
        with no_grad():
            approx = pair[1].weight.data.astype(np.float64) @ pair[0].weight.data
        err = np.linalg.norm(approx - layer.weight.data) / np.linalg.norm(layer.weight.data)
        assert np.isclose(err, info["relative_error"], rtol=1e-4)
        assert np.isclose(err, np.sqrt((s[r:] ** 2).sum() / (s**2).sum()), rtol=1e-4)  # Eckart-Young
    _, info = C.low_rank_linear(layer, energy=0.5)
    cumulative = np.cumsum(s**2) / (s**2).sum()
    assert cumulative[info["rank"] - 1] >= 0.5 > (cumulative[info["rank"] - 2] if info["rank"] > 1 else 0)
    assert C.choose_rank(np.array([3.0, 4.0, 0.0]), 1.0) == 2


def test_low_rank_errors_and_model_replacement():
    layer = Linear(6, 4)
    for rank in (0, 5, 2.0):
        with pytest.raises(ValueError, match="rank must be an int from 1 to"):
            C.low_rank_linear(layer, rank=rank)
    with pytest.raises(ValueError, match="exactly one"):
        C.low_rank_linear(layer)
    with pytest.raises(ValueError, match="energy"):
        C.low_rank_linear(layer, energy=0)
    manual_seed(5)
    model = Sequential(Linear(64, 64), ReLU(), Linear(64, 3))
    model[0].weight.data[...] = np.outer(np.arange(64), np.ones(64)) / 500  # rank 1
    smaller, report = C.low_rank_model(model, energy=0.99)
    assert list(report) == ["0"] and report["0"]["rank"] == 1
    assert isinstance(smaller[0], Sequential) and isinstance(model[0], Linear)


# ----- CSR ---------------------------------------------------------------------------------
def test_csr_round_trip_random_patterns():
    rng = np.random.default_rng(6)
    for density in (0.0, 0.05, 0.5, 1.0):
        dense = (rng.standard_normal((7, 13)) * (rng.random((7, 13)) < density)).astype(np.float32)
        data, indices, indptr = C.to_csr(dense)
        assert data.size == np.count_nonzero(dense) and indices.dtype == np.uint16 and indptr.size == 8
        np.testing.assert_array_equal(C.from_csr(data, indices, indptr, dense.shape), dense)
    with pytest.raises(ValueError, match="inconsistent"):
        C.from_csr(data, indices, indptr[:-1], dense.shape)


def test_sparse_file_sizes_follow_the_byte_count(tmp_path):
    manual_seed(7)
    model = Sequential(Linear(500, 400), ReLU(), Conv2d(1, 1, 1))  # the conv only to cover 4-D weights
    sizes = {}
    for sparsity in (0.3, 0.9):
        C.magnitude_prune(model, sparsity, layer_types=(Linear,))
        kinds = C.save_sparse(tmp_path / f"s{sparsity}.npz", model)
        np.savez(tmp_path / "dense.npz", **C.dense_state_dict(model))
        sizes[sparsity] = os.path.getsize(tmp_path / "dense.npz") / os.path.getsize(tmp_path / f"s{sparsity}.npz")
        # CSR only where it is smaller: 6 bytes per nonzero beat 4 per entry above 1/3 sparsity
        assert kinds["0.weight"] == ("csr" if sparsity > 1 / 3 else "dense")
        assert kinds["0.bias"] == "dense" and kinds["2.weight"] == "dense"
        state = C.load_sparse(tmp_path / f"s{sparsity}.npz")
        with no_grad():
            np.testing.assert_array_equal(state["0.weight"], model[0].weight.data)
    assert 0.99 < sizes[0.3] < 1.01 and 6.0 < sizes[0.9] < 7.0


def test_load_sparse_refuses_bad_files(tmp_path):
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(ValueError, match="not an .npz"):
        C.load_sparse(tmp_path / "junk.npz")
    np.savez(tmp_path / "other.npz", a=np.zeros(2))
    with pytest.raises(ValueError, match="not a readable sparse"):
        C.load_sparse(tmp_path / "other.npz")
