"""tinytorch.utils.data: Dataset, TensorDataset, DataLoader, Subset, random_split, like torch.utils.data.

Re-exports only; the code is tinytorch/core/data.py, generated from modules/08_data.
"""

from tinytorch.core.data import DataLoader, Dataset, Subset, TensorDataset, default_collate, random_split

__all__ = ["DataLoader", "Dataset", "Subset", "TensorDataset", "default_collate", "random_split"]
