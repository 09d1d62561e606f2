"""Can attention look only at the past?"""

import numpy as np

REQUIRES = ["01_tensor", "03_layers", "12_attention"]


def test_causal_self_attention_ignores_future_tokens():
    import tinytorch
    from tinytorch.core.tensor import Tensor
    from tinytorch.nn import CausalSelfAttention

    tinytorch.manual_seed(0)
    attention = CausalSelfAttention(16, 4)
    x = np.random.default_rng(4).standard_normal((1, 6, 16)).astype(np.float32)
    changed = x.copy()
    changed[:, 4:] += 10.0  # rewrite the last two positions
    before, after = attention(Tensor(x)).data, attention(Tensor(changed)).data
    leak = "positions 0-3 changed when only 4-5 did: the mask lets the past see the future"
    np.testing.assert_allclose(before[:, :4], after[:, :4], rtol=1e-5, atol=1e-5, err_msg=leak)
    assert not np.allclose(before[:, 4:], after[:, 4:]), "the rewritten positions themselves should change"
