"""The model definition every shipped Olympics baseline uses: LeNet-5 written with your framework.

A submission's model file defines `load_model(weights_path, **options)` returning a tinytorch
Module; `options` come from the manifest. This one reads three storage formats:

- "float": tinytorch.save(model.state_dict()) (module 07), float32 weights;
- "int8":  save_quantized (module 17), int8 weight codes and float32 scales;
- "csr":   save_sparse (module 18), pruned weight matrices as CSR.

`widths` are the channel / neuron counts of the four hidden layers, so a structurally pruned
LeNet (module 18's prune_channels) is the same architecture, only narrower.
"""

import tinytorch as tt
from tinytorch import nn

WIDTHS = (6, 16, 120, 84)


def lenet5(widths=WIDTHS, classes: int = 10) -> nn.Sequential:
    """(B, 1, 28, 28) -> conv5x5 pad 2 -> pool -> conv5x5 -> pool -> Linear -> Linear -> (B, classes)."""
    c1, c2, f1, f2 = (int(w) for w in widths)
    return nn.Sequential(
        nn.Conv2d(1, c1, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(c1, c2, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(c2 * 5 * 5, f1), nn.ReLU(),
        nn.Linear(f1, f2), nn.ReLU(),
        nn.Linear(f2, classes),
    )


def load_model(weights_path: str, widths=WIDTHS, storage: str = "float") -> nn.Module:
    model = lenet5(widths)
    if storage == "int8":
        from tinytorch.systems.quantization import load_quantized

        return load_quantized(weights_path, model)
    if storage == "csr":
        from tinytorch.systems.compression import load_sparse

        model.load_state_dict(load_sparse(weights_path))
    elif storage == "float":
        model.load_state_dict(tt.load(weights_path))
    else:
        raise ValueError(f"load_model: storage must be 'float', 'int8' or 'csr', got {storage!r}")
    return model.eval()
