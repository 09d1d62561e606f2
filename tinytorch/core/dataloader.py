"""tinytorch.core.dataloader: the module name the course text uses for data loading
(`from tinytorch.core.dataloader import CIFAR10Dataset, DataLoader`). Re-exports module 08's classes;
defines nothing."""

from tinytorch.core.data import CIFAR10, CIFAR10Dataset, DataLoader, Dataset, TensorDataset

__all__ = ["CIFAR10", "CIFAR10Dataset", "DataLoader", "Dataset", "TensorDataset"]
