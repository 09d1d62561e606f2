"""Module 17: quantized layers, quantize_model / quantize_dynamic, saved int8 files, fake quantization."""

from __future__ import annotations

import json
import os
import zlib

import numpy as np
import pytest

from tinytorch.core.autograd import no_grad
from tinytorch.core.layers import Flatten, Linear, Module, ModuleList, ReLU, Sequential
from tinytorch.core.optimizers import SGD
from tinytorch.core.spatial import BatchNorm2d, Conv2d, MaxPool2d, conv2d_naive
from tinytorch.core.tensor import Tensor, manual_seed
from tinytorch.core.training import save_checkpoint
from tinytorch.systems import quantization as Q


def small_cnn() -> Sequential:
    manual_seed(0)
    return Sequential(Conv2d(1, 6, 3, padding=1), BatchNorm2d(6), ReLU(), MaxPool2d(2),
                      Conv2d(6, 8, 3, stride=2, padding=(1, 0)), ReLU(), Flatten(), Linear(8 * 2 * 1, 5))


def images(n=6, seed=0) -> Tensor:
    return Tensor(np.random.default_rng(seed).random((n, 1, 8, 6), dtype=np.float32))


# ----- the layers compute exactly the integer formula ---------------------------------------
@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("per_channel", [True, False])
def test_quantized_linear_equals_integer_reference(symmetric, per_channel):
    manual_seed(1)
    layer = Linear(30, 7)
    x = Tensor(np.random.default_rng(1).standard_normal((4, 30)).astype(np.float32))
    observer = Q.MinMaxObserver()
    observer.observe(x.data)
    q = Q.QuantizedLinear.from_float(layer, observer, per_channel=per_channel, symmetric=symmetric)
    # The same computation spelled out in int64 and float64:
    s_x, z_x = float(q.input_scale.data), int(q.input_zero_point.data)
    codes = np.clip(np.rint(x.data / np.float32(s_x)) + z_x, -128, 127).astype(np.int64)
    w_codes = q.weight_q.data.astype(np.int64)
    z_w = q.weight_zero_point.data.astype(np.int64).reshape(-1)
    acc = (codes - z_x) @ (w_codes - (z_w[:, None] if per_channel else z_w)).T
    expected = acc * (s_x * q.weight_scale.data.astype(np.float64)) + layer.bias.data
    assert q.weight_q.dtype == np.int8 and q.weight_zero_point.dtype == np.int8
    np.testing.assert_allclose(q(x).data, expected, rtol=1e-5, atol=1e-6)


def test_quantized_conv_equals_naive_conv_of_the_dequantized_values():
    manual_seed(2)
    conv = Conv2d(3, 4, (3, 2), stride=(2, 1), padding=(1, 2), dilation=(1, 2))
    x = Tensor(np.random.default_rng(2).standard_normal((2, 3, 7, 9)).astype(np.float32))
    observer = Q.MinMaxObserver()
    observer.observe(x.data)
    q = Q.QuantizedConv2d.from_float(conv, observer, symmetric=False)
    x_hat = Q.dequantize(Q.quantize(x.data, q.input_scale.data, q.input_zero_point.data, 8, False),
                         q.input_scale.data, q.input_zero_point.data)
    expected = conv2d_naive(x_hat.astype(np.float64), q.dequantized_weight().astype(np.float64),
                            conv.bias.data.astype(np.float64), conv.stride, conv.padding, conv.dilation)
    np.testing.assert_allclose(q(x).data, expected, rtol=1e-4, atol=1e-5)


def test_weight_only_and_dynamic_modes():
    manual_seed(3)
    layer = Linear(16, 4)
    x = Tensor(np.random.default_rng(3).standard_normal((3, 2, 16)).astype(np.float32))
    weight_only = Q.QuantizedLinear.from_float(layer, mode="weight_only")
    expected = x.data @ weight_only.dequantized_weight().T + layer.bias.data
    np.testing.assert_allclose(weight_only(x).data, expected, rtol=1e-5, atol=1e-6)
    dynamic = Q.QuantizedLinear.from_float(layer, mode="dynamic")
    assert dynamic(x).shape == (3, 2, 4)
    assert "input_scale" not in dict(dynamic.named_buffers())
    with pytest.raises(ValueError, match="observer"):
        Q.QuantizedLinear.from_float(layer, None, mode="static")
    with pytest.raises(ValueError, match="mode must be one of"):
        Q.QuantizedLinear.from_float(layer, mode="int4")
    with pytest.raises(ValueError, match="groups=1"):
        Q.QuantizedConv2d.from_float(Conv2d(4, 4, 3, groups=2), mode="dynamic")


# ----- whole models ------------------------------------------------------------------------
def test_quantize_model_keeps_order_and_float_model():
    model = small_cnn().eval()
    calibration = [(images(seed=s), None) for s in range(3)]
    qmodel = Q.quantize_model(model, calibration, observer="percentile")
    assert [type(m).__name__ for m in qmodel] == ["QuantizedConv2d", "BatchNorm2d", "ReLU", "MaxPool2d",
                                                  "QuantizedConv2d", "ReLU", "Flatten", "QuantizedLinear"]
    assert all(isinstance(m, (Conv2d, Linear)) for m in (model[0], model[4], model[7]))
    with no_grad():
        ref, got = model(images(seed=9)).data, qmodel(images(seed=9)).data
    assert np.abs(ref - got).max() < 0.05 * np.abs(ref).max()


def test_quantize_model_num_batches_and_bad_input():
    model = small_cnn()
    seen = []

    class Counting:
        def __iter__(self):
            for s in range(5):
                seen.append(s)
                yield images(seed=s)

    Q.quantize_model(model, Counting(), num_batches=2)
    assert seen == [0, 1]
    with pytest.raises(ValueError, match="no batches"):
        Q.quantize_model(model, [])
    with pytest.raises(ValueError, match="NaN"):
        Q.quantize_model(model, [Tensor(np.full((1, 1, 8, 6), np.nan, dtype=np.float32))])
    with pytest.raises(ValueError, match="bits must be from 2 to 8"):
        Q.quantize_model(model, [images()], bits=12)
    with pytest.raises(ValueError, match="activation_bits must be from 2 to 8"):
        Q.quantize_model(model, [images()], activation_bits=1)
    with pytest.raises(TypeError, match="calibration_loader"):
        Q.quantize_model(model, None)
    with pytest.raises(ValueError, match="num_batches"):
        Q.quantize_model(model, [images()], num_batches=0)
    with pytest.raises(ValueError, match="no Linear or Conv2d"):
        Q.quantize_model(Sequential(ReLU()), [images()])


class Tower(Module):
    """Linear layers nested two levels deep, in a ModuleList and as plain attributes."""

    def __init__(self):
        super().__init__()
        self.stages = ModuleList([Sequential(Linear(8, 8), ReLU()) for _ in range(2)])
        self.head = Linear(8, 3)

    def forward(self, x):
        for stage in self.stages:
            x = stage(x)
        return self.head(x)


def test_quantize_dynamic_reaches_every_linear_in_any_tree():
    manual_seed(4)
    tower = Tower()
    x = Tensor(np.random.default_rng(4).standard_normal((5, 8)).astype(np.float32))
    for weight_only in (False, True):
        q = Q.quantize_dynamic(tower, weight_only=weight_only)
        kinds = {name: type(m).__name__ for name, m in q.named_modules() if "Linear" in type(m).__name__}
        assert kinds == {"stages.0.0": "QuantizedLinear", "stages.1.0": "QuantizedLinear", "head": "QuantizedLinear"}
        with no_grad():
            assert np.abs(q(x).data - tower(x).data).max() < 0.03
    assert isinstance(tower.head, Linear) and not isinstance(tower.head, Q.QuantizedLinear)



def test_gpt_with_int8_weights_keeps_its_loss_and_round_trips(tmp_path):
    # Every Linear of a (tiny) GPT, the head tied to the token table included, gets int8 weights.
    from tinytorch.text.transformers import GPT, GPTConfig

    manual_seed(0)
    model = GPT(GPTConfig(vocab_size=17, n_layer=2, n_head=2, n_embd=16, block_size=8, dropout=0.0,
                          bias=False)).eval()
    rng = np.random.default_rng(0)
    idx, target = Tensor(rng.integers(0, 17, (3, 8))), Tensor(rng.integers(0, 17, (3, 8)))
    with no_grad():
        base = model(idx, target)[1].item()
        for weight_only in (False, True):
            qmodel = Q.quantize_dynamic(model, weight_only=weight_only)
            assert sum(isinstance(m, Q.QuantizedLinear) for m in qmodel.modules()) == 2 * 4 + 1  # + lm_head
            assert abs(qmodel(idx, target)[1].item() - base) < 2e-3, "int8 weights moved the GPT's loss"
        loaded = Q.load_quantized(Q.save_quantized(tmp_path / "gpt.npz", qmodel), model)
        assert loaded(idx, target)[1].item() == qmodel(idx, target)[1].item()
    assert isinstance(model.lm_head, Linear), "quantize_dynamic must leave the float GPT unchanged"


# ----- files -------------------------------------------------------------------------------
def test_int8_file_is_about_four_times_smaller(tmp_path):
    manual_seed(5)
    model = Sequential(Flatten(), Linear(784, 128), ReLU(), Linear(128, 10))
    calibration = [Tensor(np.random.default_rng(5).random((20, 1, 28, 28), dtype=np.float32))]
    qmodel = Q.quantize_model(model, calibration)
    float_size = os.path.getsize(save_checkpoint(tmp_path / "float.npz", model))
    int8_size = os.path.getsize(Q.save_quantized(tmp_path / "int8.npz", qmodel))
    assert 3.85 < float_size / int8_size < 4.0
    assert 3.9 <= float_size / int8_size, "the int8 file must be at least 3.9x smaller than the float checkpoint"
    with np.load(tmp_path / "int8.npz", allow_pickle=False) as archive:
        # codes, then per-channel scales and biases (float32) and the input scales / zero points
        assert archive["blob"].size == 784 * 128 + 128 * 10 + 4 * 2 * (128 + 10) + 4 * 2 + 2
    loaded = Q.load_quantized(tmp_path / "int8.npz", model)
    assert loaded[1].weight_q.dtype == np.int8
    assert np.array_equal(loaded(calibration[0]).data, qmodel(calibration[0]).data)


@pytest.mark.parametrize("bits", [2, 3, 4, 6])
def test_low_bit_files_are_packed_and_load_back(tmp_path, bits):
    model = small_cnn().eval()
    qmodel = Q.quantize_model(model, [images()], bits=bits)
    path = Q.save_quantized(tmp_path / "q.npz", qmodel)
    loaded = Q.load_quantized(path, model)
    assert np.array_equal(loaded(images()).data, qmodel(images()).data)
    with np.load(path, allow_pickle=False) as archive:
        stored = archive["blob"].size
    layers = [m for m in qmodel.modules() if isinstance(m, (Q.QuantizedLinear, Q.QuantizedConv2d))]
    codes = sum((m.weight_q.data.size * bits + 7) // 8 for m in layers)  # at most one partial byte per layer
    rest = sum(4 * m.weight_scale.data.size + (4 * m.bias.data.size if m.bias is not None else 0) + 4 + 1
               for m in layers)  # float32 scales and biases, the input scale and zero point
    rest += 4 * 6 * 4 + 8  # the float BatchNorm2d(6): weight, bias, running mean and var, int64 batch count
    assert stored == codes + rest, f"{bits}-bit: expected {codes} packed code bytes + {rest} others, got {stored}"


def test_loading_refuses_corrupt_foreign_and_mismatched_files(tmp_path):
    model = small_cnn().eval()
    good = Q.save_quantized(tmp_path / "good.npz", Q.quantize_model(model, [images()]))
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes((tmp_path / "good.npz").read_bytes()[:-300])
    with pytest.raises(Q.QuantizedFileError, match="truncated.npz"):
        Q.load_quantized(truncated, model)
    text = tmp_path / "text.npz"
    text.write_text("not a zip")
    with pytest.raises(Q.QuantizedFileError, match="not an .npz"):
        Q.load_quantized(text, model)
    plain = tmp_path / "plain.npz"
    np.savez(plain, weight=np.zeros(3))
    with pytest.raises(Q.QuantizedFileError, match="not a quantized"):
        Q.load_quantized(plain, model)
    other = Sequential(Conv2d(1, 6, 3, padding=1), BatchNorm2d(6), ReLU(), MaxPool2d(2),
                       Conv2d(6, 9, 3, stride=2, padding=(1, 0)), ReLU(), Flatten(), Linear(9 * 2 * 1, 5))
    with pytest.raises(Q.QuantizedFileError, match="shape"):
        Q.load_quantized(good, other)
    with pytest.raises(FileNotFoundError):
        Q.load_quantized(tmp_path / "missing.npz", model)
    with np.load(good, allow_pickle=False) as archive:
        arrays = {k: archive[k] for k in archive.files}
    for name, blob, message in (("wrong_dtype", arrays["blob"].astype(np.int16), "uint8 'blob'"),
                                ("short_blob", arrays["blob"][:-1], "outside the blob"),
                                ("long_blob", np.concatenate([arrays["blob"], np.zeros(4, np.uint8)]), "no entry")):
        np.savez(tmp_path / f"{name}.npz", **{**arrays, "blob": blob})
        with pytest.raises(Q.QuantizedFileError, match=message):
            Q.load_quantized(tmp_path / f"{name}.npz", model)
    meta = json.loads(zlib.decompress(arrays["__tinytorch_quantized__"].tobytes()))
    meta["entries"][0][2] = [-1]  # a negative size must not read "the rest of the blob"
    text = np.frombuffer(zlib.compress(json.dumps(meta).encode()), dtype=np.uint8)
    np.savez(tmp_path / "negative.npz", **{**arrays, "__tinytorch_quantized__": text})
    with pytest.raises(Q.QuantizedFileError, match="described badly"):
        Q.load_quantized(tmp_path / "negative.npz", model)


# ----- fake quantization and QAT -----------------------------------------------------------
def test_fake_quantize_gradient_is_the_clipped_straight_through_estimator():
    x = Tensor(np.linspace(-2, 2, 41), requires_grad=True)
    out = Q.fake_quantize(x, 0.1, 0, bits=4, symmetric=True)  # codes -7..7: range [-0.7, 0.7]
    out.backward(Tensor(np.arange(41.0)))
    inside = np.abs(np.rint(x.data / 0.1)) <= 7
    assert np.array_equal(x.grad.data, np.where(inside, np.arange(41.0), 0.0))
    np.testing.assert_allclose(out.data, np.clip(np.rint(x.data / 0.1), -7, 7) * 0.1)


def test_prepare_qat_shares_parameters_and_trains(tmp_path):
    manual_seed(6)
    model = small_cnn()
    params_before = [id(p) for p in model.parameters()]
    optimizer = SGD(model.parameters(), lr=0.05)
    Q.prepare_qat(model, bits=4)
    assert [id(p) for p in model.parameters()] == params_before, "QAT layers must reuse the Parameters"
    assert isinstance(model[0], Q.FakeQuantConv2d) and isinstance(model[7], Q.FakeQuantLinear)
    x, target = images(12, seed=6), np.arange(12) % 5
    from tinytorch.core.losses import CrossEntropyLoss

    losses = []
    for _ in range(15):
        optimizer.zero_grad()
        loss = CrossEntropyLoss()(model(x), Tensor(target))
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    assert np.isfinite(model[0].input_min.data) and "0.input_max" in model.state_dict()
    qmodel = Q.convert_qat(model.eval())
    assert isinstance(qmodel[0], Q.QuantizedConv2d) and qmodel[0].bits == 4
    with no_grad():
        fake, real = model(x).data, qmodel(x).data
    assert np.abs(fake - real).max() < 0.1 * np.abs(fake).max()


def test_qat_argument_checks():
    with pytest.raises(ValueError, match="bits must be from 2 to 8"):
        Q.prepare_qat(small_cnn(), bits=1)
    with pytest.raises(ValueError, match="momentum"):
        Q.prepare_qat(small_cnn(), momentum=0)
    with pytest.raises(ValueError, match="no fake-quantized"):
        Q.convert_qat(small_cnn())
    with pytest.raises(ValueError, match="never saw"):
        Q.convert_qat(Q.prepare_qat(small_cnn()))
