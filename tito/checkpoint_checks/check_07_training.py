"""Can I train with a reusable training loop that tracks its progress?"""

import numpy as np

REQUIRES = ["01_tensor", "02_activations", "03_layers", "04_losses", "05_autograd", "06_optimizers", "07_training",
            "08_data"]  # fmt: skip


def test_the_trainer_fits_xor_and_reports_accuracy():
    import tinytorch
    import tinytorch.nn as nn
    import tinytorch.optim as optim
    from tinytorch.data import DataLoader, TensorDataset
    from tinytorch.training import Trainer

    tinytorch.manual_seed(0)
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]] * 16, dtype=np.float32)
    y = (x[:, 0] != x[:, 1]).astype(np.int64)
    loader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True)
    model = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 2))
    trainer = Trainer(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.05), verbose=False)
    trainer.fit(loader, epochs=60)
    result = trainer.evaluate(DataLoader(TensorDataset(x, y), batch_size=64))
    assert result["accuracy"] == 1.0, f"XOR is learnable: expected accuracy 1.0, got {result}"
