"""Build the shipped TorchPerf Olympics baselines (olympics/baselines/*/weights.npz + submission.json).

    TINYTORCH_DATA=/path/with/mnist python olympics/build_baselines.py [--epochs 3] [--seed 0]

Trains LeNet-5 (baselines/lenet5.py) on MNIST's official training split with your framework, then
derives one entry per optimization from modules 17-18:

  lenet5            the plain float32 model: every event's reference
  lenet5_int8       post-training static int8 quantization, per-channel weights, calibrated inputs
  lenet5_slim       structured pruning: half of every hidden layer's channels removed, fine-tuned
  lenet5_slim_int8  the slim model, then int8 quantized
  lenet5_sparse     80% global magnitude pruning, fine-tuned, stored as CSR

Nothing here is scored: `tito olympics submit` + `validate` measure every entry on the held-out set
(datasets/olympics_mnist.npz), in a sandbox, like a learner's. The accuracies printed here are on
MNIST's full test split, for the builder's information only.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import numpy as np  # noqa: E402

import tinytorch as tt  # noqa: E402
from tinytorch.core.autograd import no_grad  # noqa: E402
from tinytorch.core.data import MNIST, Compose, DataLoader, Normalize, Subset, ToTensor  # noqa: E402
from tinytorch.core.losses import CrossEntropyLoss  # noqa: E402
from tinytorch.core.optimizers import Adam  # noqa: E402
from tinytorch.core.training import Trainer  # noqa: E402
from tinytorch.systems.compression import magnitude_prune, prune_channels, save_sparse  # noqa: E402
from tinytorch.systems.quantization import quantize_model, save_quantized  # noqa: E402

MEAN, STD = 0.1307, 0.3081  # MNIST's training-set pixel statistics; the Olympics' inputs use them too
TEAM = "TinyTorch baselines"


def lenet_module():
    spec = importlib.util.spec_from_file_location("olympics_lenet5", HERE / "baselines" / "lenet5.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fit(model, train, epochs: int, lr: float, seed: int):
    if epochs:
        loader = DataLoader(train, batch_size=128, shuffle=True, seed=seed)
        Trainer(model, CrossEntropyLoss(), Adam(model.parameters(), lr=lr), verbose=False).fit(loader, epochs=epochs)
    return model.eval()


def accuracy(model, test) -> float:
    correct = 0
    with no_grad():
        for images, labels in DataLoader(test, batch_size=500):
            correct += int((model(images).data.argmax(axis=1) == labels.data).sum())
    return correct / len(test)


def widths_of(model) -> list[int]:
    return [int(layer.weight.shape[0]) for layer in model if hasattr(layer, "weight")][:4]


def write_entry(name: str, events: list, techniques: list, options: dict, save) -> Path:
    folder = HERE / "baselines" / name
    folder.mkdir(parents=True, exist_ok=True)
    save(folder / "weights.npz")
    manifest = {"name": name, "team": TEAM, "events": events, "techniques": techniques,
                "model": "../lenet5.py", "weights": "weights.npz", "options": options}
    (folder / "submission.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return folder


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3, help="training epochs of the plain model")
    parser.add_argument("--finetune", type=int, default=1, help="fine-tuning epochs after pruning")
    parser.add_argument("--limit", type=int, help="train on this many images only (a quick check)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--requantize", action="store_true", help="keep the shipped float entries, only rebuild "
                        "the int8 ones (after module 17's file format changed)")
    args = parser.parse_args(argv)
    if "TINYTORCH_DATA" not in os.environ:
        raise SystemExit("set TINYTORCH_DATA to the folder holding mnist/ (MNIST's official files)")
    tt.manual_seed(args.seed)
    transform = Compose([ToTensor(), Normalize((MEAN,), (STD,))])
    train = MNIST(train=True, download=False, transform=transform)
    test = MNIST(train=False, download=False, transform=transform)
    if args.limit:
        train = Subset(train, np.random.default_rng(args.seed).permutation(len(train))[: args.limit].tolist())
    lenet = lenet_module()
    if args.requantize:
        plain = lenet.load_model(str(HERE / "baselines" / "lenet5" / "weights.npz"))
        options = json.loads((HERE / "baselines" / "lenet5_slim" / "submission.json").read_text())["options"]
        slim = lenet.load_model(str(HERE / "baselines" / "lenet5_slim" / "weights.npz"), **options)
    else:
        plain = fit(lenet.lenet5(), train, args.epochs, 2e-3, args.seed)
    everything = ["latency_sprint", "memory_challenge", "accuracy_contest", "all_around", "extreme_push"]
    calibration = DataLoader(train, batch_size=128, shuffle=True, seed=args.seed + 1)

    def int8(model):
        return quantize_model(model, calibration, bits=8, per_channel=True, observer="minmax", num_batches=8)

    if not args.requantize:
        slim = fit(prune_channels(plain, 0.5), train, args.finetune, 1e-3, args.seed + 2)
        sparse = fit(magnitude_prune(copy.deepcopy(plain).train(), 0.8), train, args.finetune, 1e-3, args.seed + 3)
    q_plain, q_slim = int8(plain), int8(slim)
    entries = [
        ("lenet5_int8", q_plain, ["memory_challenge", "accuracy_contest"],
         ["int8 post-training static quantization (module 17): per-channel weights, min/max calibration on 8 "
          "training batches"], {"storage": "int8"}, lambda p, m=q_plain: save_quantized(p, m)),
        ("lenet5_slim_int8", q_slim, ["memory_challenge", "all_around", "extreme_push"],
         ["structured pruning 50% (module 18)", "int8 post-training static quantization (module 17)"],
         {"storage": "int8", "widths": widths_of(slim)}, lambda p, m=q_slim: save_quantized(p, m)),
    ]
    entries += [] if args.requantize else [
        ("lenet5", plain, everything, ["none: the plain float32 LeNet-5, every event's reference"],
         {"storage": "float"}, lambda p, m=plain: tt.save(m.state_dict(), p)),
        ("lenet5_slim", slim, ["latency_sprint", "all_around"],
         [f"structured pruning (module 18): 50% of every hidden layer's channels by L1 norm, "
          f"{args.finetune} fine-tuning epoch(s)"], {"storage": "float", "widths": widths_of(slim)},
         lambda p, m=slim: tt.save(m.state_dict(), p)),
        ("lenet5_sparse", sparse, ["memory_challenge", "accuracy_contest", "extreme_push"],
         [f"80% global magnitude pruning (module 18), {args.finetune} fine-tuning epoch(s)", "CSR storage"],
         {"storage": "csr"}, lambda p, m=sparse: save_sparse(p, m)),
    ]
    for name, model, events, techniques, options, save in entries:
        folder = write_entry(name, events, techniques, options, save)
        size = (folder / "weights.npz").stat().st_size
        print(f"{name:17s} MNIST test {accuracy(model, test):.2%}  weights.npz {size:,} bytes  -> {events}")


if __name__ == "__main__":
    main()
