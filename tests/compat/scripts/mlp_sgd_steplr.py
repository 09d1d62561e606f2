"""An MLP written the ordinary PyTorch way: an nn.Module subclass with F.relu, a device-agnostic
`.to(device)`, SGD with momentum and a StepLR schedule, gradient clipping, evaluation in eval mode under
torch.no_grad(), and a state_dict round trip through torch.save / torch.load.

Initial weights and data come from NumPy, so PyTorch and TinyTorch start from the same numbers.
"""

import os
import tempfile

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class MLP(nn.Module):
    def __init__(self, features=8, hidden=32, classes=4):
        super().__init__()
        self.fc1 = nn.Linear(features, hidden)
        self.fc2 = nn.Linear(hidden, hidden)
        self.head = nn.Linear(hidden, classes)

    def forward(self, x):
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.head(x)


def make_data(rng, n):
    x = rng.standard_normal((n, 8)).astype(np.float32)
    y = x[:, :4].argmax(axis=1).astype(np.int64)
    return torch.tensor(x), torch.tensor(y)


def main():
    rng = np.random.default_rng(0)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = MLP().to(device)
    weights = {name: torch.tensor(rng.uniform(-0.3, 0.3, tuple(value.shape)).astype(np.float32))
               for name, value in model.state_dict().items()}
    model.load_state_dict(weights)
    x, y = make_data(rng, 256)
    x_val, y_val = make_data(rng, 128)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=4, gamma=0.5)
    losses, val_losses, val_accuracy, norms = [], [], [], []
    for epoch in range(8):
        model.train()
        for start in range(0, len(x), 64):
            inputs, targets = x[start:start + 64].to(device), y[start:start + 64].to(device)
            optimizer.zero_grad()
            loss = F.cross_entropy(model(inputs), targets)
            loss.backward()
            norms.append(float(torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)))
            optimizer.step()
            losses.append(loss.item())
        scheduler.step()
        model.eval()
        with torch.no_grad():
            logits = model(x_val)
            val_losses.append(F.cross_entropy(logits, y_val).item())
            val_accuracy.append((logits.argmax(dim=1) == y_val).float().mean().item())
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "mlp.pt")
        torch.save(model.state_dict(), path)
        restored = MLP()
        restored.load_state_dict(torch.load(path, map_location="cpu"))
        restored.eval()
        with torch.no_grad():
            same = torch.allclose(restored(x_val), model(x_val))
    return {"losses": losses, "val_losses": val_losses, "val_accuracy": val_accuracy, "grad_norms": norms,
            "lr": [optimizer.param_groups[0]["lr"]], "restored_equal": [float(same)]}


if __name__ == "__main__":
    print(main())
