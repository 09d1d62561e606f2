"""Write tests/fixtures/torch_spatial.npz: PyTorch's values and gradients for module 09's layers.

Run it with a Python that has torch 2.13 (the tests never import torch; CI only reads the .npz):

    python3 -m venv /tmp/torchsp && /tmp/torchsp/bin/pip install torch==2.13.0 numpy
    /tmp/torchsp/bin/python scripts/make_spatial_fixtures.py

Everything is float64 and small. Keys are `<case>/<what>`, arrays only (no pickle):

conv_* / max_* / avg_* / adaptive_*:
    x, weight, bias      inputs (weight/bias for conv; bias absent when bias=False)
    stride, padding, dilation, groups, kernel, count_include_pad, divisor_override, output_size
                         the call's arguments (int arrays; padding may be the string 'same'/'valid';
                         -1 stands for None)
    out                  forward value
    gout                 the gradient fed to backward (fixed random, shape of out)
    grad_x, grad_weight, grad_bias   d(sum(out * gout)) / d(input)
bn_*:
    x1, x2               two training batches; weight, bias: the affine parameters set before step 1
    momentum (-1 = None), eps, affine, track, training_steps
    out, gout, grad_x, grad_weight, grad_bias   of the second training step
    running_mean, running_var, num_batches_tracked   after both training steps
    eval_x, eval_out, eval_gout, eval_grad_x     a forward/backward in eval mode afterwards
tests/09_spatial/test_spatial_torch_parity.py has the TinyTorch side of every case.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

OUT = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "torch_spatial.npz"
rng = np.random.default_rng(20240909)
arrays: dict[str, np.ndarray] = {}


def t(a, grad: bool = True) -> torch.Tensor:
    return torch.tensor(a, dtype=torch.float64, requires_grad=grad)


def save(case: str, **values) -> None:
    for key, value in values.items():
        if isinstance(value, torch.Tensor):
            value = value.detach().numpy()
        arrays[f"{case}/{key}"] = np.asarray(value)


def run(case: str, fn, inputs: dict[str, np.ndarray], **config) -> None:
    """Forward fn(**tensors), backward with a random gout, save inputs, config, out and grads."""
    tensors = {name: t(value) for name, value in inputs.items()}
    out = fn(**tensors)
    gout = rng.standard_normal(tuple(out.shape))
    out.backward(torch.tensor(gout))
    save(case, **inputs, **config, out=out, gout=gout,
         **{f"grad_{name}": tensor.grad for name, tensor in tensors.items()})


def randn(*shape):
    return rng.standard_normal(shape)


# ----- convolution ------------------------------------------------------------------------------
CONV = {
    "conv_basic": dict(x=(2, 3, 7, 6), w=(4, 3, 3, 3), stride=1, padding=0, dilation=1, groups=1),
    "conv_stride_pad": dict(x=(2, 3, 8, 7), w=(5, 3, 3, 3), stride=2, padding=1, dilation=1, groups=1),
    "conv_nonsquare": dict(x=(2, 2, 9, 8), w=(3, 2, 2, 3), stride=(1, 2), padding=(2, 0), dilation=1,
                           groups=1, bias=False),
    "conv_dilation": dict(x=(2, 2, 9, 9), w=(4, 2, 3, 3), stride=1, padding=(2, 1), dilation=(2, 1), groups=1),
    "conv_groups": dict(x=(2, 4, 6, 6), w=(6, 2, 3, 3), stride=1, padding=1, dilation=1, groups=2),
    "conv_depthwise_strided": dict(x=(2, 4, 7, 7), w=(8, 1, 3, 3), stride=2, padding=1, dilation=1, groups=4),
    "conv_same_even_kernel": dict(x=(2, 3, 6, 7), w=(2, 3, 4, 4), stride=1, padding="same", dilation=1, groups=1),
    "conv_same_dilated": dict(x=(1, 2, 7, 6), w=(3, 2, 3, 2), stride=1, padding="same", dilation=(1, 3),
                              groups=1),
    "conv_valid_batch1": dict(x=(1, 3, 5, 5), w=(2, 3, 5, 5), stride=1, padding="valid", dilation=1, groups=1),
    "conv_1x1": dict(x=(2, 6, 4, 5), w=(3, 6, 1, 1), stride=1, padding=0, dilation=1, groups=1),
}
for name, spec in CONV.items():
    has_bias = spec.get("bias", True)
    inputs = {"x": randn(*spec["x"]), "weight": randn(*spec["w"])}
    if has_bias:
        inputs["bias"] = randn(spec["w"][0])
    config = {k: spec[k] for k in ("stride", "padding", "dilation", "groups")}
    run(name, lambda x, weight, bias=None, c=config: F.conv2d(x, weight, bias, **c), inputs, **config)

# ----- pooling ----------------------------------------------------------------------------------
relu_ties = np.maximum(np.round(randn(2, 3, 8, 8)), 0)  # many exact zeros and repeated small integers
MAX = {
    "max_k2": dict(x=randn(2, 3, 8, 8), kernel=2, stride=-1, padding=0, dilation=1),
    "max_k2_ties": dict(x=relu_ties, kernel=2, stride=-1, padding=0, dilation=1),
    "max_k3_s2_p1": dict(x=randn(2, 2, 7, 9), kernel=3, stride=2, padding=1, dilation=1),
    "max_overlap_ties": dict(x=np.round(randn(1, 2, 6, 6)), kernel=(3, 2), stride=1, padding=(1, 0), dilation=1),
    "max_dilation": dict(x=randn(2, 2, 7, 8), kernel=2, stride=(1, 2), padding=0, dilation=2),
    "max_not_divisible": dict(x=randn(1, 2, 7, 5), kernel=2, stride=-1, padding=0, dilation=1),
}
for name, spec in MAX.items():
    x = spec.pop("x")
    stride = None if spec["stride"] == -1 else spec["stride"]
    run(name, lambda x, s=spec, stride=stride: F.max_pool2d(x, s["kernel"], stride, s["padding"], s["dilation"]),
        {"x": x}, **spec)

AVG = {
    "avg_k2": dict(x=randn(2, 3, 8, 8), kernel=2, stride=-1, padding=0, count_include_pad=1, divisor_override=-1),
    "avg_k3_s2_p1": dict(x=randn(2, 2, 7, 9), kernel=3, stride=2, padding=1, count_include_pad=1,
                         divisor_override=-1),
    "avg_k3_s2_p1_exclude_pad": dict(x=randn(2, 2, 7, 9), kernel=3, stride=2, padding=1, count_include_pad=0,
                                     divisor_override=-1),
    "avg_nonsquare_overlap": dict(x=randn(1, 2, 6, 7), kernel=(2, 3), stride=(2, 1), padding=(1, 1),
                                  count_include_pad=0, divisor_override=-1),
    "avg_divisor_override": dict(x=randn(1, 2, 6, 6), kernel=3, stride=2, padding=1, count_include_pad=1,
                                 divisor_override=5),
}
for name, spec in AVG.items():
    x = spec.pop("x")
    stride = None if spec["stride"] == -1 else spec["stride"]
    override = None if spec["divisor_override"] == -1 else spec["divisor_override"]
    run(name, lambda x, s=spec, stride=stride, override=override: F.avg_pool2d(
        x, s["kernel"], stride, s["padding"], count_include_pad=bool(s["count_include_pad"]),
        divisor_override=override), {"x": x}, **spec)

ADAPTIVE = {
    "adaptive_7x9_to_3x4": dict(x=randn(2, 3, 7, 9), output_size=(3, 4)),
    "adaptive_7x7_to_5x5_overlap": dict(x=randn(1, 2, 7, 7), output_size=(5, 5)),
    "adaptive_global": dict(x=randn(2, 4, 5, 6), output_size=(1, 1)),
    "adaptive_divisible": dict(x=randn(2, 2, 8, 6), output_size=(4, 3)),
    "adaptive_keep_height": dict(x=randn(1, 2, 5, 7), output_size=(-1, 3)),
}
for name, spec in ADAPTIVE.items():
    x = spec.pop("x")
    size = tuple(None if v == -1 else v for v in spec["output_size"])
    run(name, lambda x, size=size: F.adaptive_avg_pool2d(x, size), {"x": x}, **spec)

# ----- batch normalisation -------------------------------------------------------------------
BN = {
    "bn2d": dict(cls=torch.nn.BatchNorm2d, shape=(4, 3, 5, 6), momentum=0.1, affine=True, track=True),
    "bn2d_momentum_none": dict(cls=torch.nn.BatchNorm2d, shape=(3, 2, 4, 4), momentum=None, affine=True,
                               track=True),
    "bn2d_no_affine": dict(cls=torch.nn.BatchNorm2d, shape=(2, 3, 3, 4), momentum=0.3, affine=False, track=True),
    "bn2d_no_running_stats": dict(cls=torch.nn.BatchNorm2d, shape=(3, 2, 3, 3), momentum=0.1, affine=True,
                                  track=False),
    "bn1d": dict(cls=torch.nn.BatchNorm1d, shape=(6, 4), momentum=0.1, affine=True, track=True),
    "bn1d_sequence": dict(cls=torch.nn.BatchNorm1d, shape=(3, 4, 5), momentum=0.2, affine=True, track=True),
    "bn1d_batch2": dict(cls=torch.nn.BatchNorm1d, shape=(2, 3), momentum=0.1, affine=True, track=True),
}
for name, spec in BN.items():
    channels = spec["shape"][1]
    layer = spec["cls"](channels, eps=1e-5, momentum=spec["momentum"], affine=spec["affine"],
                        track_running_stats=spec["track"]).double()
    weight, bias = randn(channels) * 0.5 + 1, randn(channels) * 0.5
    if spec["affine"]:
        with torch.no_grad():
            layer.weight.copy_(torch.tensor(weight))
            layer.bias.copy_(torch.tensor(bias))
    x1, x2 = randn(*spec["shape"]) * 2 + 1, randn(*spec["shape"]) * 3 - 1
    layer.train()
    layer(t(x1, grad=False))
    x = t(x2)
    out = layer(x)
    gout = randn(*spec["shape"])
    out.backward(torch.tensor(gout))
    values = dict(x1=x1, x2=x2, momentum=-1 if spec["momentum"] is None else spec["momentum"], eps=1e-5,
                  affine=int(spec["affine"]), track=int(spec["track"]), out=out, gout=gout, grad_x=x.grad)
    # copy now: the eval-mode backward below accumulates into the same .grad tensors
    if spec["affine"]:
        values.update(weight=weight, bias=bias, grad_weight=layer.weight.grad.clone(),
                      grad_bias=layer.bias.grad.clone())
    if spec["track"]:
        values.update(running_mean=layer.running_mean.clone(), running_var=layer.running_var.clone(),
                      num_batches_tracked=layer.num_batches_tracked.clone())
    layer.eval()
    eval_x = t(randn(*spec["shape"]))
    eval_out = layer(eval_x)
    eval_gout = randn(*spec["shape"])
    eval_out.backward(torch.tensor(eval_gout))
    values.update(eval_x=eval_x, eval_out=eval_out, eval_gout=eval_gout, eval_grad_x=eval_x.grad)
    save(name, **values)

OUT.parent.mkdir(parents=True, exist_ok=True)
np.savez_compressed(OUT, **arrays)
print(f"wrote {OUT} ({OUT.stat().st_size / 1024:.0f} KiB, {len(arrays)} arrays, torch {torch.__version__})")
