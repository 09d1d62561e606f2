"""Build datasets/tinycifar.npz: 30 train / 10 test images per class from CIFAR-10's official files.

    python datasets/build_tinycifar.py --source DATA_ROOT

(DATA_ROOT: the folder holding cifar10/; default $TINYTORCH_DATA.)

The files are read and checksum-verified by TinyTorch's own loader; the picks are class-balanced
and reproducible (seed 0). See build_tiny_from_real.py.
"""

from build_tiny_from_real import main

if __name__ == "__main__":
    main("cifar10", "tinycifar.npz", train_per_class=30, test_per_class=10)
