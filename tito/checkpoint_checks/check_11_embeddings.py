"""Can I give tokens learnable meaning with embeddings?"""

import numpy as np

REQUIRES = ["01_tensor", "05_autograd", "11_embeddings"]


def test_an_embedding_looks_up_rows_and_only_used_rows_get_gradients():
    from tinytorch.core.tensor import Tensor
    from tinytorch.nn import Embedding

    table = Embedding(10, 4)
    ids = Tensor(np.array([[1, 3, 3]]))
    out = table(ids)
    assert out.shape == (1, 3, 4), f"ids (1, 3) -> vectors (1, 3, 4), got {out.shape}"
    np.testing.assert_array_equal(out.data[0, 1], table.weight.data[3], err_msg="row 3 of the table for id 3")
    out.sum().backward()
    grad = table.weight.grad.data if hasattr(table.weight.grad, "data") else table.weight.grad
    assert np.all(grad[3] == 2) and np.all(grad[1] == 1) and not grad[[0, 2, 4]].any(), (
        "id 3 appears twice (gradient 2), id 1 once, unused rows get none"
    )
