"""Module 01: which operations return views (shared memory) and which copy, as PyTorch promises."""

from __future__ import annotations

import numpy as np
import pytest

import tinytorch.core.tensor as tt
from tinytorch.core.tensor import Tensor


def base() -> Tensor:
    return Tensor(np.arange(24, dtype=np.float32).reshape(2, 3, 4))


# Operations PyTorch guarantees to return a view of a contiguous input.
VIEWS = {
    "reshape": lambda x: x.reshape(6, 4),
    "reshape -1": lambda x: x.reshape(-1),
    "view": lambda x: x.view(4, 6),
    "flatten": lambda x: x.flatten(),
    "flatten(1)": lambda x: x.flatten(1),
    "permute": lambda x: x.permute(2, 0, 1),
    "transpose": lambda x: x.transpose(0, 1),
    "T": lambda x: x.T,
    "squeeze": lambda x: x[:1].squeeze(0),
    "unsqueeze": lambda x: x.unsqueeze(1),
    "expand": lambda x: x[:, :1].expand(2, 5, 4),
    "int index": lambda x: x[1],
    "slice": lambda x: x[:, 1:],
    "step slice": lambda x: x[..., ::2],
    "None index": lambda x: x[None],
    "contiguous of contiguous": lambda x: x.contiguous(),
    "detach": lambda x: x.detach(),
    "numpy": lambda x: x.numpy(),
    "reshape of a slice of rows": lambda x: x[1:].reshape(12),
    "view of a permuted tensor that stays expressible": lambda x: x.permute(0, 2, 1).view(2, 4, 3),
}

# Operations that must give new memory.
COPIES = {
    "reshape of transposed": lambda x: x.transpose(1, 2).reshape(-1),
    "flatten of permuted": lambda x: x.permute(2, 1, 0).flatten(),
    "contiguous of transposed": lambda x: x.T.contiguous(),
    "int list index": lambda x: x[[0, 1]],
    "tensor index": lambda x: x[Tensor([1, 0])],
    "bool mask": lambda x: x[x > 5],
    "cat": lambda x: tt.cat([x, x]),
    "stack": lambda x: tt.stack([x, x]),
    "tensor()": lambda x: tt.tensor(x),
    "arithmetic": lambda x: x + 0,
    "float64 conversion": lambda x: x.double(),
}


def _array(out):
    return out if isinstance(out, np.ndarray) else out.data


@pytest.mark.parametrize("name", VIEWS)
def test_views_share_memory(name):
    x = base()
    out = _array(VIEWS[name](x))
    assert np.shares_memory(out, x.data), f"{name} should be a view of its input (no copy)"


@pytest.mark.parametrize("name", COPIES)
def test_copies_do_not_share_memory(name):
    x = base()
    out = _array(COPIES[name](x))
    assert not np.shares_memory(out, x.data), f"{name} should copy"


def test_view_sees_writes_to_the_base():
    x = base()
    v = x.reshape(-1)
    x.data[0, 0, 0] = 100.0
    assert v.data[0] == 100.0


def test_view_refuses_to_copy_but_reshape_copies():
    x = base().transpose(1, 2)
    with pytest.raises(ValueError, match=r"view: .*without copying.*reshape"):
        x.view(-1)
    assert x.reshape(-1).shape == (24,)
    assert x.contiguous().view(-1).shape == (24,)


def test_strides_and_contiguity():
    x = base()
    assert x.stride() == (12, 4, 1) and x.is_contiguous()
    assert x.T.stride() == (1, 4, 12) and not x.T.is_contiguous()
    assert x.permute(1, 0, 2).stride() == (4, 12, 1)
    assert x[:, :, ::2].stride() == (12, 4, 2)
    e = x[:, :1].expand(2, 5, 4)
    assert e.stride() == (12, 0, 1) and not e.is_contiguous()
    assert x.contiguous() is x
    c = x.T.contiguous()
    assert c.is_contiguous() and c.stride() == (6, 2, 1)
    np.testing.assert_array_equal(c.data, x.T.data)
    assert x.stride(-1) == 1 and Tensor(1.0).stride() == ()


def test_expand_is_read_only_and_uses_no_new_memory():
    col = Tensor(np.ones((1000, 1), dtype=np.float32))
    big = col.expand(1000, 1000)
    assert big.shape == (1000, 1000) and big.stride() == (1, 0)
    assert not big.data.flags.writeable
    assert np.shares_memory(big.data, col.data)
