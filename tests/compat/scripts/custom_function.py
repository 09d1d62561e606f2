"""A custom torch.autograd.Function used inside a model: forward saves its input with
ctx.save_for_backward, backward reads ctx.saved_tensors. The model trains with plain SGD on a
regression task with nn.MSELoss.

Initial weights and data come from NumPy, so PyTorch and TinyTorch start from the same numbers.
"""

import numpy as np
import torch
import torch.nn as nn


class SquaredReLU(torch.autograd.Function):
    """relu(x) ** 2, with its derivative 2 * relu(x) written by hand."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.clamp(min=0) ** 2

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * 2 * x.clamp(min=0)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(3, 16)
        self.out = nn.Linear(16, 1)

    def forward(self, x):
        return self.out(SquaredReLU.apply(self.hidden(x)))


def main():
    rng = np.random.default_rng(2)
    x = rng.uniform(-1, 1, (64, 3)).astype(np.float32)
    y = (np.sin(2 * x[:, :1]) + x[:, 1:2] * x[:, 2:3]).astype(np.float32)
    model = Net()
    model.load_state_dict({name: torch.tensor(rng.uniform(-0.5, 0.5, tuple(v.shape)).astype(np.float32))
                           for name, v in model.state_dict().items()})
    inputs, targets = torch.tensor(x), torch.tensor(y)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    criterion = nn.MSELoss()
    losses = []
    for step in range(30):
        optimizer.zero_grad()
        loss = criterion(model(inputs), targets)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    probe = torch.tensor(np.linspace(-1, 1, 5, dtype=np.float32), requires_grad=True)
    SquaredReLU.apply(probe).sum().backward()
    return {"losses": losses, "probe_grad": [float(g) for g in probe.grad]}


if __name__ == "__main__":
    print(main())
