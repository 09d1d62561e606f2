"""Write tests/fixtures/torch_quantization.npz: PyTorch 2.13's values for what modules 17-18 mirror.

Run it with a Python that has torch 2.13 (the tests never import torch; CI only reads the .npz):

    /work/torchvenv/bin/python scripts/make_compression_fixtures.py

Keys are `<case>/<what>`, arrays only (no pickle):

quantize_* (torch.quantize_per_tensor / quantize_per_channel, then int_repr):
    x, scale, zero_point, axis (-1: per tensor), dtype_min, dtype_max, q
fakequant_* (torch.fake_quantize_per_tensor_affine / per_channel_affine, forward and backward):
    x, scale, zero_point, axis (-1: per tensor), qmin, qmax, out, gout, grad_x
distill_* (KL(batchmean) of log_softmax(s/T) against softmax(t/T), times alpha*T^2, plus (1-alpha)*CE):
    student, teacher, target, temperature, alpha, loss, grad_student
tests/17_quantization/test_quantization_torch_parity.py has the TinyTorch side.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

OUT = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "torch_quantization.npz"
rng = np.random.default_rng(20241017)
arrays: dict[str, np.ndarray] = {}


def put(case: str, **values) -> None:
    for key, value in values.items():
        arrays[f"{case}/{key}"] = np.asarray(value)


# Values on exact half steps test the rounding rule (half to even), the others the clamping.
ties = np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 3.49, 200.0, -300.0], dtype=np.float32)
for name, dtype, scale, zero in (("qint8", torch.qint8, 1.0, 0), ("qint8_zp", torch.qint8, 0.5, -3),
                                 ("quint8", torch.quint8, 0.25, 128)):
    x = np.concatenate([ties, rng.standard_normal(20).astype(np.float32) * 10])
    q = torch.quantize_per_tensor(torch.from_numpy(x), scale, zero, dtype).int_repr().numpy()
    info = torch.iinfo(torch.int8 if dtype == torch.qint8 else torch.uint8)
    put(f"quantize_{name}", x=x, scale=np.float32(scale), zero_point=zero, axis=-1, dtype_min=info.min,
        dtype_max=info.max, q=q.astype(np.int64))

x = rng.standard_normal((4, 6)).astype(np.float32) * np.array([[0.1], [1], [5], [20]], dtype=np.float32)
scales = (np.abs(x).max(axis=1) / 127).astype(np.float32)
q = torch.quantize_per_channel(torch.from_numpy(x), torch.from_numpy(scales.astype(np.float64)),
                               torch.zeros(4, dtype=torch.int64), 0, torch.qint8).int_repr().numpy()
put("quantize_per_channel", x=x, scale=scales, zero_point=np.zeros(4, dtype=np.int64), axis=0, dtype_min=-128,
    dtype_max=127, q=q.astype(np.int64))

for name, per_channel, qmin, qmax in (("tensor_int8", False, -128, 127), ("tensor_4bit", False, -8, 7),
                                      ("channel_3bit", True, -3, 3)):
    x = torch.tensor(rng.standard_normal((3, 7)) * 2, dtype=torch.float32, requires_grad=True)
    gout = torch.tensor(rng.standard_normal((3, 7)), dtype=torch.float32)
    if per_channel:
        scale = torch.tensor([0.3, 0.5, 0.9], dtype=torch.float32)
        zero = torch.zeros(3, dtype=torch.int32)
        out = torch.fake_quantize_per_channel_affine(x, scale, zero, 0, qmin, qmax)
        put(f"fakequant_{name}", scale=scale.numpy(), zero_point=zero.numpy().astype(np.int64), axis=0)
    else:
        scale, zero = 0.4, 2
        out = torch.fake_quantize_per_tensor_affine(x, scale, zero, qmin, qmax)
        put(f"fakequant_{name}", scale=np.float32(scale), zero_point=zero, axis=-1)
    out.backward(gout)
    put(f"fakequant_{name}", x=x.detach().numpy(), qmin=qmin, qmax=qmax, out=out.detach().numpy(),
        gout=gout.numpy(), grad_x=x.grad.numpy())

for name, temperature, alpha in (("t4_a09", 4.0, 0.9), ("t1_a05", 1.0, 0.5), ("t2_a1", 2.0, 1.0)):
    student = torch.tensor(rng.standard_normal((5, 7)) * 2, dtype=torch.float64, requires_grad=True)
    teacher = torch.tensor(rng.standard_normal((5, 7)) * 3, dtype=torch.float64)
    target = torch.tensor(rng.integers(0, 7, 5))
    soft = F.kl_div(F.log_softmax(student / temperature, dim=1), F.softmax(teacher / temperature, dim=1),
                    reduction="batchmean")
    loss = alpha * temperature**2 * soft + (1 - alpha) * F.cross_entropy(student, target)
    loss.backward()
    put(f"distill_{name}", student=student.detach().numpy(), teacher=teacher.numpy(), target=target.numpy(),
        temperature=temperature, alpha=alpha, loss=loss.item(), grad_student=student.grad.numpy())

np.savez(OUT, **arrays)
print(f"wrote {OUT} ({len(arrays)} arrays, torch {torch.__version__})")
