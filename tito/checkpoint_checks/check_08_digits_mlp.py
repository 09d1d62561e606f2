"""Can I train an MLP to 95% on handwritten digits with my own framework?"""

import numpy as np

REQUIRES = ["01_tensor", "02_activations", "03_layers", "04_losses", "05_autograd", "06_optimizers", "08_data"]


def test_an_mlp_reaches_95_percent_on_tinydigits():
    import tinytorch
    import tinytorch.nn as nn
    import tinytorch.optim as optim
    from tinytorch.core.tensor import Tensor
    from tinytorch.data import DataLoader, TinyDigits

    tinytorch.manual_seed(0)
    train, test = TinyDigits(train=True), TinyDigits(train=False)

    def arrays(dataset):
        images = np.stack([np.asarray(getattr(img, "data", img), dtype=np.float32) for img, _ in dataset])
        labels = np.array([int(getattr(label, "data", label)) for _, label in dataset])
        return images.reshape(len(dataset), -1) / 16.0, labels

    x_train, y_train = arrays(train)
    x_test, y_test = arrays(test)
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    optimizer = optim.Adam(model.parameters(), lr=0.01)
    from tinytorch.data import TensorDataset

    loader = DataLoader(TensorDataset(x_train, y_train), batch_size=64, shuffle=True)
    for _epoch in range(15):
        for images, labels in loader:
            optimizer.zero_grad()
            nn.CrossEntropyLoss()(model(images), labels).backward()
            optimizer.step()
    predictions = model(Tensor(x_test)).data.argmax(1)
    accuracy = float((predictions == y_test).mean())
    assert accuracy >= 0.95, f"expected at least 95% test accuracy on 359 digits, got {accuracy:.1%}"
