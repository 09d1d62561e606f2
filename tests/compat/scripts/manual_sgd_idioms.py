"""Softmax regression written with raw tensors, the way PyTorch tutorials begin: leaf tensors with
requires_grad, a hand-written update `w -= lr * w.grad` under torch.no_grad(), `grad.zero_()`, and the
everyday idioms around it — torch.from_numpy, x.t(), x.clone(), torch.max(x, 1), torch.sum, torch.where,
torch.zeros_like, x.size(0), augmented in-place operators.

Data come from NumPy, so PyTorch and TinyTorch start from the same numbers.
"""

import numpy as np
import torch
import torch.nn.functional as F


def main():
    rng = np.random.default_rng(3)
    columns = rng.standard_normal((4, 120)).astype(np.float32)
    x = torch.from_numpy(columns).t().clone()  # (120, 4), its own memory
    y = torch.from_numpy((rng.standard_normal((120, 3)) + columns.T @ rng.standard_normal((4, 3))).argmax(1))
    w = torch.zeros(4, 3, requires_grad=True)
    b = torch.zeros(3, requires_grad=True)
    lr = 0.5
    losses, accuracy = [], []
    for step in range(25):
        logits = x @ w + b
        loss = F.cross_entropy(logits, y)
        loss.backward()
        with torch.no_grad():
            w -= lr * w.grad
            b -= lr * b.grad
            w.grad.zero_()
            b.grad.zero_()
        _, predicted = torch.max(logits, 1)
        losses.append(loss.item())
        accuracy.append(torch.sum(predicted == y).item() / y.size(0))
    with torch.no_grad():
        logits = x @ w + b
        positive = torch.where(logits > 0, logits, torch.zeros_like(logits))
        scale = torch.ones(3)
        scale *= 2
        scale += 1
    return {"losses": losses, "accuracy": accuracy, "positive_sum": [float(positive.sum())],
            "scaled": scale.tolist(), "weights": w.detach().flatten().tolist()}


if __name__ == "__main__":
    print(main())
