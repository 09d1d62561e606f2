"""Build datasets/tinyfashion.npz: 100 train / 20 test images per class from Fashion-MNIST's official files.

    python datasets/build_tinyfashion.py --source DATA_ROOT

(DATA_ROOT: the folder holding fashion_mnist/; default $TINYTORCH_DATA.)

The files are read and checksum-verified by TinyTorch's own loader; the picks are class-balanced
and reproducible (seed 0). See build_tiny_from_real.py.
"""

from build_tiny_from_real import main

if __name__ == "__main__":
    main("fashion_mnist", "tinyfashion.npz", train_per_class=100, test_per_class=20)
