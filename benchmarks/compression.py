"""Pruning, distillation, low rank and sparse storage (module 18) on the milestone models, measured on the
real MNIST / Fashion-MNIST test split.

    TINYTORCH_DATA=/work/shared/datasets python benchmarks/compression.py [--dataset mnist] [--epochs 2]
        [--cnn-train-size 20000] [--seeds 3] [--json]

MLP: the 1986 milestone's 784-512-256-10 (no dropout), trained --epochs on 55,000 training images (the last
5,000 are held out for choosing the distillation temperature and alpha); then global magnitude pruning to
80% (+ up to 2 fine-tuning epochs), iterative pruning to 90% (3 rounds of prune + 1 epoch), the one-shot
accuracy-vs-sparsity curve, low rank at 90% energy, CSR file sizes. CNN: the 1998 milestone's convbn2,
trained 1 epoch on --cnn-train-size images, 50% of its channels pruned + 1 epoch fine-tuning, latency.
Distillation, with limited data: a LeNet-5 teacher and a 784-128-10 student both trained on the first
--distill-train-size (5,000) images; the student alone and distilled, same seeds, batches and epochs;
(T, alpha) from --temperatures x --alphas by accuracy on the held-out 5,000. Ends with a table of the
targets. --only pruning,distillation,structured runs a part; --json prints everything as the last line.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import tempfile

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
from tinytorch.core.layers import Flatten, Linear, ReLU, Sequential
from tinytorch.core.optimizers import Adam
from tinytorch.core.tensor import manual_seed
from tinytorch.systems import compression as C


def pruning(mlp, train_set, test_set, say) -> dict:
    row = {"dense_accuracy": accuracy(mlp, test_set)}
    curve = {}
    for level in (0.5, 0.7, 0.8, 0.9, 0.95, 0.98):
        curve[level] = {scope: accuracy(C.magnitude_prune(copy.deepcopy(mlp), level, scope=scope), test_set)
                        for scope in ("global", "layer")}
    row["one_shot_curve"] = curve
    say("one-shot accuracy vs sparsity (no fine-tuning):")
    print_table(["sparsity", *(f"{k:.0%}" for k in curve)],
                [[scope, *(f"{v[scope]:.2%}" for v in curve.values())] for scope in ("global", "layer")])
    manual_seed(1)
    pruned = C.magnitude_prune(copy.deepcopy(mlp), 0.8)
    row["global80_after_epochs"] = []
    for epoch in range(2):
        train(pruned, train_set, 1, lr=5e-4, seed=10 + epoch)
        row["global80_after_epochs"].append(accuracy(pruned, test_set))
    row["global80_sparsity_per_layer"] = {n: s for n, _, _, s in C.sparsity_report(pruned)}
    manual_seed(1)
    continued = copy.deepcopy(mlp)  # the fair baseline: the dense model given the same extra epochs
    for epoch in range(2):
        train(continued, train_set, 1, lr=5e-4, seed=10 + epoch)
    row["dense_continued_accuracy"] = accuracy(continued, test_set)
    say(f"global 80% + fine-tuning: {', '.join(f'{a:.2%}' for a in row['global80_after_epochs'])} after 1, 2 "
        f"epochs (dense {row['dense_accuracy']:.2%}; dense given the same 2 extra epochs "
        f"{row['dense_continued_accuracy']:.2%}); per layer {row['global80_sparsity_per_layer']}")
    manual_seed(2)
    iterative = copy.deepcopy(mlp)
    row["iterative90"] = []
    for step, level in enumerate(C.sparsity_schedule(0.9, 3)):
        C.magnitude_prune(iterative, level)
        train(iterative, train_set, 1, lr=5e-4, seed=20 + step)
        row["iterative90"].append((level, accuracy(iterative, test_set)))
    say("iterative to 90% (prune, 1 epoch): " + ", ".join(f"{s:.1%} -> {a:.2%}" for s, a in row["iterative90"]))
    with tempfile.TemporaryDirectory() as folder:
        dense_path = os.path.join(folder, "dense.npz")
        np.savez(dense_path, **mlp.state_dict())
        row["dense_file_bytes"] = os.path.getsize(dense_path)
        for name, model in (("global80", pruned), ("iterative90", iterative)):
            path = os.path.join(folder, f"{name}.npz")
            C.save_sparse(path, model)
            row[f"{name}_csr_bytes"] = os.path.getsize(path)
    dense, csr80, csr90 = row["dense_file_bytes"], row["global80_csr_bytes"], row["iterative90_csr_bytes"]
    say(f"files: dense {dense / 1024:.0f} KiB, 80% CSR {csr80 / 1024:.0f} KiB ({dense / csr80:.2f}x), "
        f"90% CSR {csr90 / 1024:.0f} KiB ({dense / csr90:.2f}x)")
    factorized, report = C.low_rank_model(mlp, energy=0.9)
    row["low_rank90"] = {"parameters": C.count_parameters(factorized), "accuracy": accuracy(factorized, test_set),
                         "layers": report}
    say(f"low rank (90% energy): {C.count_parameters(mlp):,} -> {row['low_rank90']['parameters']:,} params, "
        f"accuracy {row['low_rank90']['accuracy']:.2%}")
    return row


def structured(cnn_factory, train_set, test_set, say) -> dict:
    manual_seed(0)
    cnn = train(cnn_factory(), train_set, 1)
    slim = C.prune_channels(cnn, 0.5)
    row = {"dense_accuracy": accuracy(cnn, test_set), "pruned_before_finetune": accuracy(slim, test_set)}
    train(slim, train_set, 1, lr=1e-3, seed=5)
    row["pruned_after_finetune"] = accuracy(slim, test_set)
    row["dense_parameters"], row["pruned_parameters"] = C.count_parameters(cnn), C.count_parameters(slim)
    x = next(iter(DataLoader(test_set, batch_size=256)))[0]
    with no_grad():
        times = alternate_medians({"dense": lambda: cnn(x), "pruned": lambda: slim(x)}, repeats=7)
    row["dense_ms"], row["pruned_ms"] = times["dense"] * 1e3, times["pruned"] * 1e3
    row["speedup"] = times["dense"] / times["pruned"]
    say(f"structured 50% channels: {row['dense_parameters']:,} -> {row['pruned_parameters']:,} params; accuracy "
        f"{row['dense_accuracy']:.2%} -> {row['pruned_before_finetune']:.2%} -> {row['pruned_after_finetune']:.2%} "
        f"after 1 epoch; batch 256 {row['dense_ms']:.0f} -> {row['pruned_ms']:.0f} ms ({row['speedup']:.2f}x)")
    return row


def student_accuracy(teacher, train_set, eval_set, seed: int, epochs: int, width: int, temperature: float,
                     alpha: float) -> float:
    """Accuracy on eval_set of a 784-width-10 student after `epochs` of distill() (alpha=0: trained alone)."""
    manual_seed(seed)
    student = Sequential(Flatten(), Linear(784, width), ReLU(), Linear(width, 10))
    loader = DataLoader(train_set, batch_size=128, shuffle=True, seed=seed)
    C.distill(student, teacher, loader, Adam(student.parameters(), lr=2e-3), epochs=epochs,
              temperature=temperature, alpha=alpha)
    return accuracy(student, eval_set)


def distillation(train_set, val_set, test_set, args, say) -> dict:
    """LeNet-5 teacher and a small MLP student on the same limited training set; (T, alpha) chosen on
    held-out training images, then alone vs distilled on the test split for several seeds."""
    manual_seed(0)
    teacher = train(milestone("1998_cnn").lenet5(), train_set, args.teacher_epochs)
    row = {"train_images": len(train_set), "teacher": "LeNet-5", "teacher_epochs": args.teacher_epochs,
           "teacher_accuracy": accuracy(teacher, test_set), "student": f"784-{args.student_width}-10",
           "student_epochs": args.student_epochs}
    say(f"distillation: teacher LeNet-5, {args.teacher_epochs} epochs on {len(train_set):,} images: test "
        f"{row['teacher_accuracy']:.2%}; student {row['student']}, {args.student_epochs} epochs, same images")
    grid = [(t, a) for t in args.temperatures for a in args.alphas]

    def score(eval_set, seed, t, a):
        return student_accuracy(teacher, train_set, eval_set, seed, args.student_epochs, args.student_width, t, a)

    val = {"alone": score(val_set, 0, 1.0, 0.0)}
    val.update({f"T={t:g},alpha={a:g}": score(val_set, 0, t, a) for t, a in grid})
    best = max(grid, key=lambda ta: val[f"T={ta[0]:g},alpha={ta[1]:g}"])
    print_table(["setting (seed 0)", "validation accuracy"], [[k, f"{v:.2%}"] for k, v in val.items()])
    say(f"chosen on validation: T={best[0]:g}, alpha={best[1]:g}")
    rows = []
    for seed in range(args.seeds):
        rows.append({"alone": score(test_set, seed, 1.0, 0.0), "distilled": score(test_set, seed, *best)})
    print_table(["seed", "alone (test)", "distilled (test)", "gain"],
                [[i, f"{r['alone']:.2%}", f"{r['distilled']:.2%}", f"{100 * (r['distilled'] - r['alone']):+.2f} pp"]
                 for i, r in enumerate(rows)])
    row.update({"validation": val, "temperature": best[0], "alpha": best[1], "seeds": rows,
                "mean_alone": float(np.mean([r["alone"] for r in rows])),
                "mean_distilled": float(np.mean([r["distilled"] for r in rows]))})
    return row


def targets(result: dict) -> list:
    rows = []
    if "pruning" in result:
        p = result["pruning"]
        # The stricter reference: the dense model, or the dense model given the same 2 extra epochs.
        dense = max(p["dense_accuracy"], p["dense_continued_accuracy"])
        gap = 100 * (dense - max(p["global80_after_epochs"]))
        rows.append(target_row("MLP, 80% global sparsity, <= 2 fine-tuning epochs: within 1 pp of dense",
                               f"{max(p['global80_after_epochs']):.2%} vs dense {dense:.2%} ({-gap:+.2f} pp)",
                               gap <= 1.0))
        final = p["iterative90"][-1][1]
        gap = 100 * (dense - final)
        rows.append(target_row("MLP, 90% iterative: within 1.5 pp of dense",
                               f"{final:.2%} vs dense {dense:.2%} ({-gap:+.2f} pp)", gap <= 1.5))
    if "structured" in result:
        s = result["structured"]
        gap = 100 * (s["dense_accuracy"] - s["pruned_after_finetune"])
        rows.append(target_row("CNN, 50% of channels: >= 1.6x faster, within 1 pp after fine-tuning",
                               f"{s['speedup']:.2f}x, {s['pruned_after_finetune']:.2%} vs {s['dense_accuracy']:.2%} "
                               f"({-gap:+.2f} pp)", s["speedup"] >= 1.6 and gap <= 1.0))
    if "distillation" in result:
        d = result["distillation"]
        wins = sum(r["distilled"] > r["alone"] for r in d["seeds"])
        rows.append(target_row("distilled student beats the same student alone (same epochs, seeds)",
                               f"mean {d['mean_distilled']:.2%} vs {d['mean_alone']:.2%}, {wins}/{len(d['seeds'])} "
                               "seeds", wins == len(d["seeds"])))
    return rows


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", choices=("mnist", "fashion_mnist"), default="mnist")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--cnn-train-size", type=int, default=20000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--train-size", type=int, default=None,
                        help="train the MLP parts on the first N of the 55,000 non-held-out images")
    parser.add_argument("--distill-train-size", type=int, default=5000,
                        help="distillation: teacher and students train on the first N images (default 5000)")
    parser.add_argument("--teacher-epochs", type=int, default=10)
    parser.add_argument("--student-epochs", type=int, default=20)
    parser.add_argument("--student-width", type=int, default=128, help="hidden units of the 784-W-10 student")
    parser.add_argument("--temperatures", type=float, nargs="+", default=[2.0, 4.0, 8.0])
    parser.add_argument("--alphas", type=float, nargs="+", default=[0.5, 0.9])
    parser.add_argument("--only", default="", help="comma-separated parts: pruning, distillation, structured")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    train_set, test_set = load_data(args.dataset, None)
    result = {"dataset": args.dataset, "epochs": args.epochs, "test_images": len(test_set), "machine": machine_info()}
    parts = set(args.only.split(",")) if args.only else {"pruning", "distillation", "structured"}
    # The last 5,000 training images are held out to choose the distillation settings; all
    # models are trained on the other 55,000 and measured on the 10,000 test images.
    order = np.arange(len(train_set))
    fit_order = order[:-5000] if args.train_size is None else order[:min(args.train_size, len(order) - 5000)]
    fit_set, val_set = Subset(train_set, fit_order.tolist()), Subset(train_set, order[-5000:].tolist())
    result["mlp_train_images"] = len(fit_set)
    if "pruning" in parts:
        manual_seed(0)
        mlp = train(milestone("1986_mlp").mlp(784, (512, 256), 10, 0.0), fit_set, args.epochs)
        print(f"{args.dataset} MLP 784-512-256-10, {args.epochs} epochs on {len(fit_set):,} images: test accuracy "
              f"{accuracy(mlp, test_set):.2%}")
    if "pruning" in parts:
        result["pruning"] = pruning(mlp, fit_set, test_set, print)
    if "distillation" in parts:
        limited = Subset(train_set, order[:args.distill_train_size].tolist())
        result["distillation"] = distillation(limited, val_set, test_set, args, print)
    if "structured" in parts:
        cnn_train, _ = load_data(args.dataset, args.cnn_train_size)
        result["structured"] = structured(milestone("1998_cnn").convbn2, cnn_train, test_set, print)
    print(f"\ntargets ({args.dataset}):")
    print_table(["target", "measured", ""], targets(result))
    print(f"machine: {result['machine']}")
    if args.json:
        print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
