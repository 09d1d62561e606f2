"""A small CNN the ordinary PyTorch way: nn.Sequential of Conv2d / BatchNorm2d / ReLU / MaxPool2d /
Flatten / Linear, batches from DataLoader(TensorDataset(...)), Adam with weight decay, nn.CrossEntropyLoss,
evaluation under torch.no_grad().

Initial weights and data come from NumPy, so PyTorch and TinyTorch start from the same numbers.
"""

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset


def make_model():
    return nn.Sequential(
        nn.Conv2d(1, 4, kernel_size=3, padding=1, bias=False),  # BatchNorm follows: a bias would cancel out
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(4, 8, kernel_size=3),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(8 * 4 * 4, 3),
    )


def main():
    rng = np.random.default_rng(1)
    images = rng.standard_normal((96, 1, 12, 12)).astype(np.float32)
    labels = (images[:, 0, :6].mean(axis=(1, 2)) > 0).astype(np.int64) + (images[:, 0, 6:].mean(axis=(1, 2)) > 0)
    model = make_model()
    state = {}
    for name, value in model.state_dict().items():
        if name.endswith("num_batches_tracked"):
            state[name] = torch.tensor(0)
        elif name.endswith("running_var"):
            state[name] = torch.tensor(np.ones(tuple(value.shape), dtype=np.float32))
        else:
            state[name] = torch.tensor(rng.uniform(-0.4, 0.4, tuple(value.shape)).astype(np.float32))
    model.load_state_dict(state)
    loader = DataLoader(TensorDataset(torch.tensor(images[:80]), torch.tensor(labels[:80])), batch_size=16)
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=1e-4)
    losses, val_losses = [], []
    for epoch in range(3):
        model.train()
        for inputs, targets in loader:
            optimizer.zero_grad()
            loss = criterion(model(inputs), targets)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        model.eval()
        with torch.no_grad():
            val_losses.append(criterion(model(torch.tensor(images[80:])), torch.tensor(labels[80:])).item())
    running_mean = model[1].running_mean
    return {"losses": losses, "val_losses": val_losses, "running_mean": [float(v) for v in running_mean],
            "batches_tracked": [float(model[1].num_batches_tracked)]}


if __name__ == "__main__":
    print(main())
