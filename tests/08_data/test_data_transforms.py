"""Module 08: image transforms — single image and batch, ndarray and Tensor, uint8 and float."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinytorch.core.data import (
    ColorJitter,
    Compose,
    DataLoader,
    Normalize,
    RandomCrop,
    RandomHorizontalFlip,
    ToTensor,
    VisionDataset,
)
from tinytorch.core.tensor import Tensor, manual_seed

FAST = settings(max_examples=30, deadline=None)


def images(n=8, c=3, h=6, w=7, dtype=np.uint8, seed=0):
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 256, (n, c, h, w))
    return data.astype(dtype) if dtype == np.uint8 else (data / 255).astype(dtype)


# ----- ToTensor / Compose -----------------------------------------------------------------------------
def test_to_tensor_scales_uint8_exactly_like_division_by_255():
    x = np.arange(256, dtype=np.uint8).reshape(1, 16, 16)
    out = ToTensor()(x)
    assert out.dtype == np.float32 and out.shape == (1, 16, 16)
    np.testing.assert_array_equal(out.data, x.astype(np.float32) / np.float32(255))
    assert out.data.min() == 0.0 and out.data.max() == 1.0


@pytest.mark.parametrize("shape, channels_last, expected", [
    ((28, 28), False, (1, 28, 28)), ((3, 5, 4), False, (3, 5, 4)), ((2, 3, 5, 4), False, (2, 3, 5, 4)),
    ((5, 4, 3), True, (3, 5, 4)), ((2, 5, 4, 3), True, (2, 3, 5, 4)),
])
def test_to_tensor_layouts(shape, channels_last, expected):
    x = np.random.default_rng(0).integers(0, 256, shape).astype(np.uint8)
    out = ToTensor(channels_last=channels_last)(x)
    assert out.shape == expected
    back = np.moveaxis(out.data, -3, -1) if channels_last else out.data.reshape(shape)
    np.testing.assert_allclose(back * 255, x, atol=1e-4)


def test_to_tensor_passes_float_through_and_rejects_other_types():
    x = np.full((1, 2, 2), 0.25, dtype=np.float64)
    out = ToTensor()(Tensor(x))
    assert out.dtype == np.float32 and np.allclose(out.data, 0.25), "floats are not rescaled"
    with pytest.raises(TypeError, match="uint8"):
        ToTensor()(np.zeros((1, 2, 2), np.int64))
    with pytest.raises(ValueError, match="shape"):
        ToTensor()(np.zeros(5, np.uint8))
    with pytest.raises(TypeError, match="list"):
        ToTensor()([[1, 2]])


def test_compose_order_and_repr():
    pipeline = Compose([ToTensor(), Normalize((0.5,), (0.5,))])
    out = pipeline(np.array([[[0, 255]]], dtype=np.uint8))
    np.testing.assert_allclose(out.data, [[[-1.0, 1.0]]])
    assert repr(pipeline) == "Compose(\n    ToTensor()\n    Normalize(mean=(0.5,), std=(0.5,))\n)"
    with pytest.raises(TypeError, match="transform 1"):
        Compose([ToTensor(), "not callable"])


# ----- Normalize ----------------------------------------------------------------------------------
@FAST
@given(n=st.integers(1, 4), c=st.integers(1, 4), h=st.integers(1, 5), w=st.integers(1, 5), single=st.booleans())
def test_normalize_matches_a_per_channel_loop(n, c, h, w, single):
    rng = np.random.default_rng(n * 100 + c * 10 + h)
    x = rng.random((n, c, h, w), dtype=np.float32)
    mean, std = rng.random(c).tolist(), (rng.random(c) + 0.5).tolist()
    got = Normalize(mean, std)(x[0] if single else x)
    reference = np.empty_like(x)
    for channel in range(c):
        reference[:, channel] = (x[:, channel] - np.float32(mean[channel])) / np.float32(std[channel])
    np.testing.assert_allclose(got, reference[0] if single else reference, rtol=1e-6, atol=1e-6)
    assert got.dtype == np.float32


def test_normalize_keeps_float64_and_tensor_type_and_never_mutates():
    x = np.ones((2, 2, 3, 3), dtype=np.float64)
    out = Normalize([1.0, 0.0], [2.0, 4.0])(Tensor(x))
    assert isinstance(out, Tensor) and out.dtype == np.float64
    np.testing.assert_allclose(out.data[:, 0], 0.0)
    np.testing.assert_allclose(out.data[:, 1], 0.25)
    assert (x == 1).all()


@pytest.mark.parametrize("mean, std, error", [((0.5,), (0.0,), ValueError), ((0.5, 0.5), (1.0,), ValueError),
                                              ("abc", (1.0,), TypeError), ((), (), ValueError)])
def test_normalize_bad_parameters(mean, std, error):
    with pytest.raises(error, match="Normalize"):
        Normalize(mean, std)


def test_normalize_bad_inputs():
    with pytest.raises(TypeError, match="ToTensor"):
        Normalize(0.5, 0.5)(images())
    with pytest.raises(ValueError, match="channel"):
        Normalize((0.5, 0.5), (1.0, 1.0))(images(dtype=np.float32))
    with pytest.raises(ValueError, match="shape"):
        Normalize(0.5, 0.5)(np.zeros((4, 4), np.float32))


# ----- RandomHorizontalFlip ---------------------------------------------------------------------------
def test_flip_mirrors_exactly_the_chosen_images():
    x = images(n=200)
    out = RandomHorizontalFlip(0.5, generator=np.random.default_rng(4))(x)
    mirrored = np.array([np.array_equal(o, i[..., ::-1]) for o, i in zip(out, x)])
    kept = np.array([np.array_equal(o, i) for o, i in zip(out, x)])
    assert (mirrored | kept).all(), "every image is either untouched or mirrored as a whole"
    assert 70 < mirrored.sum() < 130, "about half of 200 images flip with p = 0.5"
    again = RandomHorizontalFlip(0.5, generator=np.random.default_rng(4))(x)
    np.testing.assert_array_equal(out, again)


def test_flip_uses_the_global_generator_by_default():
    x = images(n=64)
    manual_seed(5)
    first = RandomHorizontalFlip()(x)
    manual_seed(5)
    np.testing.assert_array_equal(RandomHorizontalFlip()(x), first)


@pytest.mark.parametrize("p", [-0.1, 1.5, "half", True])
def test_flip_rejects_bad_probabilities(p):
    with pytest.raises(ValueError, match="probability"):
        RandomHorizontalFlip(p)


def test_flip_single_images_and_tensors():
    x = images(n=1, dtype=np.float32)[0]
    out = RandomHorizontalFlip(1.0)(Tensor(x))
    assert isinstance(out, Tensor) and out.dtype == np.float32
    np.testing.assert_array_equal(out.data, x[:, :, ::-1])
    with pytest.raises(ValueError, match=r"\(C, H, W\)"):
        RandomHorizontalFlip()(np.zeros((4, 4)))


# ----- RandomCrop ------------------------------------------------------------------------------------
@FAST
@given(n=st.integers(1, 5), c=st.integers(1, 3), h=st.integers(2, 7), w=st.integers(2, 7),
       padding=st.integers(0, 3), data=st.data())
def test_random_crop_returns_windows_of_the_padded_image(n, c, h, w, padding, data):
    th = data.draw(st.integers(1, h + 2 * padding))
    tw = data.draw(st.integers(1, w + 2 * padding))
    x = np.random.default_rng(h * w).integers(1, 256, (n, c, h, w)).astype(np.uint8)
    out = RandomCrop((th, tw), padding=padding, fill=0, generator=np.random.default_rng(n))(x)
    assert out.shape == (n, c, th, tw) and out.dtype == np.uint8
    framed = np.zeros((n, c, h + 2 * padding, w + 2 * padding), np.uint8)
    framed[:, :, padding:padding + h, padding:padding + w] = x
    for k in range(n):
        windows = [(r, s) for r in range(framed.shape[2] - th + 1) for s in range(framed.shape[3] - tw + 1)
                   if np.array_equal(framed[k, :, r:r + th, s:s + tw], out[k])]
        assert windows, f"image {k}'s crop is not a window of its own padded image"


def test_random_crop_offsets_cover_every_position_and_fill_the_border():
    x = np.full((3000, 1, 2, 2), 9, dtype=np.uint8)
    out = RandomCrop(2, padding=1, fill=5, generator=np.random.default_rng(0))(x)
    patterns = {tuple(o.ravel()) for o in out}
    assert len(patterns) == 9, "a 2x2 crop of a 4x4 padded image has 9 positions, all should occur"
    assert set(np.unique(out)) == {5, 9}, "padding uses the fill value"


def test_random_crop_on_tensors_floats_and_single_images():
    x = images(n=2, c=3, h=8, w=8, dtype=np.float32)
    out = RandomCrop(6, padding=2)(Tensor(x[0]))
    assert isinstance(out, Tensor) and out.shape == (3, 6, 6) and out.dtype == np.float32
    np.testing.assert_array_equal(RandomCrop((8, 8))(x), x)


@pytest.mark.parametrize("kwargs", [{"size": 0}, {"size": (3,)}, {"size": 2.5}, {"size": 3, "padding": -1},
                                    {"size": 3, "padding": 1.5}])
def test_random_crop_bad_parameters(kwargs):
    with pytest.raises(ValueError, match="RandomCrop"):
        RandomCrop(**kwargs)


def test_random_crop_larger_than_the_padded_image():
    with pytest.raises(ValueError, match="larger than the padded image"):
        RandomCrop(10, padding=1)(images(h=6, w=7))


# ----- ColorJitter ------------------------------------------------------------------------------------
def test_brightness_factors_stay_in_range_per_image():
    x = np.full((400, 3, 2, 2), 0.5, dtype=np.float32)
    out = ColorJitter(brightness=0.25, generator=np.random.default_rng(0))(x)
    factors = out[:, 0, 0, 0] / 0.5
    assert factors.min() >= 0.75 - 1e-6 and factors.max() <= 1.25 + 1e-6
    assert np.allclose(out, out[:, :1, :1, :1])


def test_contrast_scales_distance_from_the_grey_mean():
    x = np.full((50, 1, 2, 2), 0.4, dtype=np.float32)
    x[:, :, 0] = 0.6  # grey mean 0.5; half the pixels 0.1 above it, half 0.1 below
    out = ColorJitter(contrast=0.5, generator=np.random.default_rng(1))(x)
    factor = (out[:, 0, 0, 0] - 0.5) / 0.1
    np.testing.assert_allclose(out[:, 0, 1, 1], 0.5 - 0.1 * factor, atol=1e-6)
    assert factor.min() >= 0.5 - 1e-5 and factor.max() <= 1.5 + 1e-5 and factor.std() > 0.1


def test_contrast_uses_luma_for_colour_images():
    x = np.zeros((1, 3, 1, 2), dtype=np.float32)
    x[0, 1] = [[0.2, 0.6]]  # only green: luma mean = 0.587 * 0.4
    out = ColorJitter(contrast=1.0, generator=np.random.default_rng(3))(x)
    grey = 0.587 * 0.4
    factor = (out[0, 1, 0, 1] - grey) / (0.6 - grey)
    np.testing.assert_allclose(out[0, 1, 0, 0], grey + factor * (0.2 - grey), atol=1e-6)
    np.testing.assert_allclose(out[0, 0], np.clip(grey * (1 - factor), 0, 1), atol=1e-6)


def test_color_jitter_uint8_is_rounded_and_clipped():
    x = np.full((20, 3, 2, 2), 250, dtype=np.uint8)
    out = ColorJitter(brightness=0.5, contrast=0.5, generator=np.random.default_rng(2))(x)
    assert out.dtype == np.uint8 and out.shape == x.shape and out.max() <= 255 and out.min() >= 0
    assert ColorJitter()(Tensor(x)).data.tolist() == x.tolist(), "no jitter asked for, nothing changes"


@pytest.mark.parametrize("kwargs", [{"brightness": -0.1}, {"contrast": "lots"}, {"brightness": True}])
def test_color_jitter_bad_parameters(kwargs):
    with pytest.raises(ValueError, match="ColorJitter"):
        ColorJitter(**kwargs)


# ----- transforms inside datasets -----------------------------------------------------------------
def test_dataset_applies_the_same_transform_per_item_and_per_batch():
    data = images(n=10, c=1, h=4, w=4)
    ds = VisionDataset(data, np.arange(10) % 3, Compose([ToTensor(), Normalize(0.5, 0.25)]))
    image, label = ds[3]
    assert isinstance(image, Tensor) and isinstance(label, int) and label == 0
    batch, labels = ds.get_batch(np.array([3, 4]))
    np.testing.assert_allclose(batch.data[0], image.data)
    assert labels.dtype == np.int64
    images_batch, labels_batch = next(iter(DataLoader(ds, batch_size=10)))
    assert images_batch.shape == (10, 1, 4, 4) and images_batch.dtype == np.float32
    np.testing.assert_allclose(images_batch.data[3], image.data)


def test_dataset_items_are_copies_and_indices_are_checked():
    data = images(n=3, c=1, h=2, w=2)
    ds = VisionDataset(data, np.zeros(3, np.int64))
    image, _ = ds[-1]
    image[...] = 0
    assert data[2].any(), "ds[i] without a transform returns a copy, not a view into the dataset"
    with pytest.raises(IndexError, match="out of range"):
        ds[3]
    with pytest.raises(TypeError, match="index"):
        ds[1.0]
    with pytest.raises(TypeError, match="transform"):
        VisionDataset(data, np.zeros(3, np.int64), transform="flip")
