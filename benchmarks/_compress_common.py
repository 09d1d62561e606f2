"""Shared by benchmarks/quantization.py and benchmarks/compression.py: the milestone models, real data
from $TINYTORCH_DATA, training, test accuracy, timing and the machine description. Not a benchmark itself."""

from __future__ import annotations

import importlib.util
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from tinytorch.core.autograd import no_grad  # noqa: E402
from tinytorch.core.data import MNIST, Compose, DataLoader, FashionMNIST, Normalize, Subset, ToTensor  # noqa: E402
from tinytorch.core.losses import CrossEntropyLoss  # noqa: E402
from tinytorch.core.optimizers import Adam  # noqa: E402
from tinytorch.core.training import Trainer  # noqa: E402

STATS = {"mnist": ((0.1307,), (0.3081,)), "fashion_mnist": ((0.2860,), (0.3530,))}


def milestone(name: str):
    """The run.py of milestones/<name> as a module (its models are what we compress)."""
    path = ROOT / "milestones" / name / "run.py"
    spec = importlib.util.spec_from_file_location(f"milestone_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_data(dataset: str, train_size: int | None, seed: int = 0):
    """(train subset, full test split) of MNIST or Fashion-MNIST from $TINYTORCH_DATA (no download)."""
    if "TINYTORCH_DATA" not in os.environ:
        raise SystemExit("set TINYTORCH_DATA to the folder with the MNIST / Fashion-MNIST archives "
                         "(e.g. TINYTORCH_DATA=/work/shared/datasets)")
    cls = {"mnist": MNIST, "fashion_mnist": FashionMNIST}[dataset]
    transform = Compose([ToTensor(), Normalize(*STATS[dataset])])
    train = cls(train=True, download=False, transform=transform)
    test = cls(train=False, download=False, transform=transform)
    if train_size is not None and train_size < len(train):
        indices = np.random.default_rng(seed).permutation(len(train))[:train_size]
        train = Subset(train, indices.tolist())
    return train, test


def train(model, dataset, epochs: int, lr: float = 2e-3, seed: int = 0, batch_size: int = 128):
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, seed=seed)
    Trainer(model, CrossEntropyLoss(), Adam(model.parameters(), lr=lr), verbose=False).fit(loader, epochs=epochs)
    return model.eval()


def accuracy(model, dataset, batch_size: int = 500) -> float:
    model.eval()
    correct = 0
    with no_grad():
        for images, labels in DataLoader(dataset, batch_size=batch_size):
            correct += int((model(images).data.argmax(axis=1) == labels.data).sum())
    return correct / len(dataset)


def alternate_medians(fns: dict, repeats: int) -> dict:
    """Median seconds of each callable, run in turns (so load spikes hit all of them), after one warm-up."""
    times = {name: [] for name in fns}
    for fn in fns.values():
        fn()
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def machine_info() -> dict:
    blas = np.show_config(mode="dicts").get("Build Dependencies", {}).get("blas", {})
    return {"python": platform.python_version(), "numpy": np.__version__,
            "blas": f"{blas.get('name', '?')} {blas.get('version', '')}".strip(), "cpus": os.cpu_count(),
            "threads": {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS") if k in os.environ},
            "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None}


def print_table(headers: list, rows: list) -> None:
    """A Markdown table (pastes straight into benchmarks/README.md)."""
    print("| " + " | ".join(headers) + " |")
    print("|" + "---|" * len(headers))
    for row in rows:
        print("| " + " | ".join(str(cell) for cell in row) + " |")


def target_row(name: str, measured: str, met: bool) -> list:
    return [name, measured, "**met**" if met else "not met"]
