"""Post-training int8 quantization (module 17) of the milestone models on the real MNIST / Fashion-MNIST
test split: accuracy per calibration method, file size, latency at batch 1 and batch 256.

    TINYTORCH_DATA=/work/shared/datasets python benchmarks/quantization.py [--dataset fashion_mnist]
        [--epochs 2] [--train-size 60000] [--qat-bits 2] [--gpt-checkpoint PATH] [--only cnn,mlp,gpt] [--json]

Trains the 1998 milestone's CNN for the dataset (LeNet-5 for MNIST, convbn2 for Fashion-MNIST) and the
1986 milestone's MLP (784-512-256-10, no dropout) for --epochs, then quantizes both. With
--gpt-checkpoint PATH (a checkpoint milestones/2017_transformer/run.py saved) it also gives every Linear
layer of the GPT int8 weights and compares validation losses. Ends with a table of the targets;
--only cnn,mlp,gpt runs parts.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import tempfile
import time

import numpy as np
from _compress_common import (
    accuracy,
    alternate_medians,
    load_data,
    machine_info,
    milestone,
    print_table,
    target_row,
    train,
)

from tinytorch.core.autograd import no_grad
from tinytorch.core.data import DataLoader, Subset
from tinytorch.core.tensor import manual_seed
from tinytorch.core.training import load_checkpoint, save_checkpoint
from tinytorch.systems import quantization as Q


def file_sizes(model, qmodel, folder: str) -> dict:
    ckpt = os.path.getsize(save_checkpoint(os.path.join(folder, "float.npz"), model))
    raw = os.path.join(folder, "raw.npz")
    np.savez(raw, **model.state_dict())
    int8 = os.path.getsize(Q.save_quantized(os.path.join(folder, "int8.npz"), qmodel))
    return {"float_checkpoint_bytes": ckpt, "float_raw_npz_bytes": os.path.getsize(raw), "int8_bytes": int8,
            "ratio_vs_checkpoint": ckpt / int8, "ratio_vs_raw_npz": os.path.getsize(raw) / int8}


def latency(model, qmodel, test, repeats_one: int, repeats_batch: int) -> dict:
    one = test.get_batch([0]) if hasattr(test, "get_batch") else None
    x1 = one[0] if one is not None else next(iter(DataLoader(Subset(test, [0]), batch_size=1)))[0]
    x256 = next(iter(DataLoader(test, batch_size=256)))[0]
    with no_grad():
        t1 = alternate_medians({"float": lambda: model(x1), "int8": lambda: qmodel(x1)}, repeats_one)
        tb = alternate_medians({"float": lambda: model(x256), "int8": lambda: qmodel(x256)}, repeats_batch)
    return {"batch1_float_ms": t1["float"] * 1e3, "batch1_int8_ms": t1["int8"] * 1e3,
            "batch256_float_ms": tb["float"] * 1e3, "batch256_int8_ms": tb["int8"] * 1e3,
            "batch256_int8_over_float": tb["int8"] / tb["float"]}


def gpt(checkpoint: str, say) -> dict:
    """Validation loss of the 2017 milestone's GPT (a checkpoint its run.py saved) in float32 and with
    int8 weights in every Linear layer, on the milestone's own 50 fixed validation batches."""
    run = milestone("2017_transformer")
    task = run.load_task("shakespeare", 2017)
    model = run.build(task)
    load_checkpoint(checkpoint, model)
    config = model.config
    batches = run.fixed_batches(task, "val", 50, config.block_size, 12, 2017 + 3)  # what run.py --load uses
    row = {"checkpoint": os.fspath(checkpoint), "parameters": model.num_parameters(non_embedding=False),
           "val_batches": len(batches), "float_val_loss": run.evaluate(model, batches)}
    quantized = {"dynamic": Q.quantize_dynamic(model), "weight_only": Q.quantize_dynamic(model, weight_only=True)}
    for mode, qmodel in quantized.items():
        row[f"{mode}_val_loss"] = run.evaluate(qmodel, batches)
        row[f"{mode}_rise"] = row[f"{mode}_val_loss"] - row["float_val_loss"]
    with tempfile.TemporaryDirectory() as folder:
        row["float_checkpoint_bytes"] = os.path.getsize(save_checkpoint(os.path.join(folder, "f.npz"), model))
        row["int8_bytes"] = os.path.getsize(Q.save_quantized(os.path.join(folder, "q.npz"), quantized["dynamic"]))
    print_table(["GPT (Shakespeare)", "val loss", "rise", "file"],
                [["float32", f"{row['float_val_loss']:.4f}", "", f"{row['float_checkpoint_bytes']:,} B"],
                 ["int8 weights, dynamic int8 activations", f"{row['dynamic_val_loss']:.4f}",
                  f"{row['dynamic_rise']:+.4f}", f"{row['int8_bytes']:,} B"],
                 ["int8 weights only (float matmul)", f"{row['weight_only_val_loss']:.4f}",
                  f"{row['weight_only_rise']:+.4f}", ""]])
    return row


def targets(result: dict) -> list:
    rows = []
    for name, row in result["models"].items():
        if name == "cnn":
            int8 = row[f"int8_{row['best_observer']}_accuracy"]
            rows.append(target_row(f"{result['dataset']} CNN int8 (per-channel, calibrated): loses <= 0.5 pp",
                                   f"{row['float_accuracy']:.2%} -> {int8:.2%} "
                                   f"({-row['int8_drop_pp']:+.2f} pp, {row['best_observer']})",
                                   row["int8_drop_pp"] <= 0.5))
        rows.append(target_row(f"{result['dataset']} {name} int8 file >= 3.9x smaller than the float checkpoint",
                               f"{row['ratio_vs_checkpoint']:.3f}x ({row['float_checkpoint_bytes']:,} -> "
                               f"{row['int8_bytes']:,} B; vs a bare np.savez {row['ratio_vs_raw_npz']:.3f}x)",
                               row["ratio_vs_checkpoint"] >= 3.9))
    if "gpt" in result:
        g = result["gpt"]
        for mode in ("dynamic", "weight_only"):
            rows.append(target_row(f"GPT int8 weights ({mode}): val loss rises <= 0.02",
                                   f"{g['float_val_loss']:.4f} -> {g[f'{mode}_val_loss']:.4f} "
                                   f"({g[f'{mode}_rise']:+.4f})", g[f"{mode}_rise"] <= 0.02))
    return rows


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", choices=("mnist", "fashion_mnist"), default="mnist")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--train-size", type=int, default=None, help="train on a random subset (test: full split)")
    parser.add_argument("--calibration", type=int, default=1000, help="training images used for calibration")
    parser.add_argument("--qat-bits", type=int, default=0, help="also fine-tune 1 epoch with fake quantization "
                        "at this weight bit width and compare with PTQ (0: skip)")
    parser.add_argument("--gpt-checkpoint", help="also quantize the 2017 milestone's GPT saved at this path "
                        "(python milestones/2017_transformer/run.py --checkpoint PATH)")
    parser.add_argument("--only", default="", help="comma-separated parts: cnn, mlp, gpt")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    parts = set(args.only.split(",")) if args.only else {"cnn", "mlp", "gpt"}
    result = {"dataset": args.dataset, "epochs": args.epochs, "machine": machine_info(), "models": {}}
    if "gpt" in parts and args.gpt_checkpoint:
        result["gpt"] = gpt(args.gpt_checkpoint, print)
    if parts & {"cnn", "mlp"}:
        models(args, parts, result)
    if result["models"]:
        print(f"\n{args.dataset}, test accuracy on {result['test_images']:,} images:")
        print_table(["model", "float", "int8 min/max", "int8 percentile", "int8 MSE", "int4 weights",
                     "file, x smaller", "batch 256 float -> int8"], [
            [name, *(f"{row[k]:.2%}" for k in ("float_accuracy", "int8_minmax_accuracy", "int8_percentile_accuracy",
                                               "int8_mse_accuracy", "int4_weights_mse_accuracy")),
             f"{row['ratio_vs_checkpoint']:.3f}x",
             f"{row['batch256_float_ms']:.1f} -> {row['batch256_int8_ms']:.1f} ms"]
            for name, row in result["models"].items()])
    print("\ntargets:")
    print_table(["target", "measured", ""], targets(result))
    print(f"machine: {result['machine']}")
    if args.json:
        print(json.dumps(result))
    return result


def models(args, parts: set, result: dict) -> None:
    """Train the dataset's CNN and MLP, quantize them and measure accuracy, size and latency."""
    train_set, test_set = load_data(args.dataset, args.train_size)
    calibration = DataLoader(Subset(train_set, list(range(args.calibration))), batch_size=100)
    cnn_module, mlp_module = milestone("1998_cnn"), milestone("1986_mlp")
    factories = {"cnn": cnn_module.lenet5 if args.dataset == "mnist" else cnn_module.convbn2,
                 "mlp": lambda: mlp_module.mlp(784, (512, 256), 10, 0.0)}
    result.update({"train_images": len(train_set), "test_images": len(test_set)})
    for name in [n for n in factories if n in parts]:
        model = factories[name]()
        manual_seed(0)
        start = time.perf_counter()
        train(model, train_set, args.epochs)
        row = {"train_seconds": time.perf_counter() - start, "float_accuracy": accuracy(model, test_set),
               "parameters": sum(p.numel() for p in model.parameters())}
        for observer in ("minmax", "percentile", "mse"):
            q = Q.quantize_model(model, calibration, observer=observer)
            row[f"int8_{observer}_accuracy"] = accuracy(q, test_set)
        for bits in (4,):
            row["int4_weights_mse_accuracy"] = accuracy(
                Q.quantize_model(model, calibration, bits=bits, observer="mse"), test_set)
        if args.qat_bits:
            manual_seed(1)
            qat = Q.prepare_qat(copy.deepcopy(model).train(), bits=args.qat_bits, activation_bits=8)
            train(qat, train_set, 1, lr=5e-4, seed=3)
            row[f"qat{args.qat_bits}_accuracy"] = accuracy(Q.convert_qat(qat), test_set)
            row[f"ptq{args.qat_bits}_accuracy"] = accuracy(
                Q.quantize_model(model, calibration, bits=args.qat_bits, observer="mse"), test_set)
            print(f"  {args.qat_bits}-bit weights: PTQ {row[f'ptq{args.qat_bits}_accuracy']:.2%}, QAT (1 epoch) "
                  f"{row[f'qat{args.qat_bits}_accuracy']:.2%}")
        if name == "mlp":
            row["dynamic_int8_accuracy"] = accuracy(Q.quantize_dynamic(model), test_set)
            row["weight_only_int8_accuracy"] = accuracy(Q.quantize_dynamic(model, weight_only=True), test_set)
        best = max(("minmax", "percentile", "mse"), key=lambda o: row[f"int8_{o}_accuracy"])
        row["best_observer"] = best
        row["int8_drop_pp"] = 100 * (row["float_accuracy"] - row[f"int8_{best}_accuracy"])
        qmodel = Q.quantize_model(model, calibration, observer=best)
        with tempfile.TemporaryDirectory() as folder:
            row.update(file_sizes(copy.deepcopy(model), qmodel, folder))
        row.update(latency(model, qmodel, test_set, repeats_one=50, repeats_batch=15))
        result["models"][name] = row
        print(f"{args.dataset} {name}: float {row['float_accuracy']:.2%}; int8 " + ", ".join(
            f"{o} {row[f'int8_{o}_accuracy']:.2%}" for o in ("minmax", "percentile", "mse"))
            + f" (best drop {row['int8_drop_pp']:+.2f} pp); int4 weights {row['int4_weights_mse_accuracy']:.2%}")
        if name == "mlp":
            print(f"  dynamic int8 {row['dynamic_int8_accuracy']:.2%}, weight-only int8 "
                  f"{row['weight_only_int8_accuracy']:.2%}")
        print(f"  size: checkpoint {row['float_checkpoint_bytes'] / 1024:.1f} KiB, raw npz "
              f"{row['float_raw_npz_bytes'] / 1024:.1f} KiB, int8 {row['int8_bytes'] / 1024:.1f} KiB "
              f"({row['ratio_vs_checkpoint']:.2f}x / {row['ratio_vs_raw_npz']:.2f}x smaller)")
        print(f"  latency: batch 1 {row['batch1_float_ms']:.2f} -> {row['batch1_int8_ms']:.2f} ms, batch 256 "
              f"{row['batch256_float_ms']:.1f} -> {row['batch256_int8_ms']:.1f} ms "
              f"(int8/float {row['batch256_int8_over_float']:.2f}; NumPy has no int8 GEMM)")


if __name__ == "__main__":
    main()
